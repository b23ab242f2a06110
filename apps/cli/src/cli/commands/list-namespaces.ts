// `telepresence list-namespaces [--kubeconfig F] [--context C]`: the namespaces the user can see,
// read from the API server with the user's own kubeconfig (no daemon, no session).
import type { V1Namespace } from '@kubernetes/client-node';
import { defineCommand, KUBE_FLAGS } from '../command.js';

export const listNamespacesCommand = defineCommand({
  name: 'list-namespaces',
  description: 'Show the namespaces of the cluster that you can see',
  requires: 'none',
  flags: KUBE_FLAGS,
  async run(ctx, opts) {
    // Loaded on use: the Kubernetes client stays out of every other command's start.
    const { kubeApi, kubeFor, kubeRead, resourcePath } = await import('./kube-access.js');
    const kube = kubeFor(ctx, opts);
    const list = await kubeRead(kube, 'list namespaces', (signal) => kubeApi(kube.kc).list<V1Namespace>(resourcePath('v1', 'namespaces'), { signal }), ctx.signal);
    const namespaces = list.items.map((n) => n.metadata?.name ?? '').filter((n) => n.length > 0).sort();
    ctx.out.result({ context: kube.contextName, namespaces }, () => (namespaces.length ? namespaces.join('\n') : `No namespaces visible with context ${kube.contextName}`));
  },
});
