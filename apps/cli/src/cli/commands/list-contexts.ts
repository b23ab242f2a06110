// `telepresence list-contexts [--kubeconfig F]`: the kubeconfig contexts telepresence can connect
// with (all files of KUBECONFIG merged as kubectl merges them), the current one marked, as in 2.x.
// Reads files only: no daemon, no cluster.
import { homedir } from 'node:os';
import { listContexts } from '../../kube/kubeconfig.js';
import { defineCommand } from '../command.js';

export const listContextsCommand = defineCommand({
  name: 'list-contexts',
  description: 'Show the kubeconfig contexts telepresence can connect with',
  requires: 'none',
  flags: [{ flags: '--kubeconfig <files>', description: 'kubeconfig file(s) (default: $KUBECONFIG or ~/.kube/config)' }],
  async run(ctx, opts) {
    const kubeconfigEnv = opts.kubeconfig || ctx.env.KUBECONFIG;
    const r = listContexts({ home: ctx.env.HOME || homedir(), ...(kubeconfigEnv ? { kubeconfigEnv } : {}) });
    ctx.out.result(r, () => {
      if (r.contexts.length === 0) return 'No contexts in the kubeconfig';
      const width = Math.max(...r.contexts.map((c) => c.name.length));
      return r.contexts.map((c) => `${c.name === r.current ? '*' : ' '} ${c.name.padEnd(width)}  cluster ${c.cluster}, user ${c.user}${c.namespace ? `, namespace ${c.namespace}` : ''}`).join('\n');
    });
  },
});
