// `telepresence list-contexts [--kubeconfig F]`: the kubeconfig contexts telepresence can connect
// with (all files of KUBECONFIG merged as kubectl merges them), the current one marked, as in 2.x.
// Reads files only: no daemon, no cluster.
import { defineCommand, KUBE_FLAGS, kubeconfigSource } from '../command.js';

export const listContextsCommand = defineCommand({
  name: 'list-contexts',
  description: 'Show the kubeconfig contexts telepresence can connect with',
  requires: 'none',
  flags: [KUBE_FLAGS[0]],
  async run(ctx, opts) {
    const { listContexts } = await import('../../kube/kubeconfig.js'); // loaded on use, as the Kubernetes client it brings
    const r = listContexts(kubeconfigSource(ctx.env, opts));
    ctx.out.result(r, () => {
      if (r.contexts.length === 0) return 'No contexts in the kubeconfig';
      const width = Math.max(...r.contexts.map((c) => c.name.length));
      return r.contexts.map((c) => `${c.name === r.current ? '*' : ' '} ${c.name.padEnd(width)}  cluster ${c.cluster}, user ${c.user}${c.namespace ? `, namespace ${c.namespace}` : ''}`).join('\n');
    });
  },
});
