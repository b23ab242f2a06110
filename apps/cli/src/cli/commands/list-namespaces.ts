// `telepresence list-namespaces [--kubeconfig F] [--context C]`: the namespaces the user can see,
// read from the API server with the user's own kubeconfig (no daemon, no session).
import { CoreV1Api } from '@kubernetes/client-node';
import { defineCommand } from '../command.js';
import { KUBE_FLAGS, kubeFor, kubeRead } from './kube-access.js';

export const listNamespacesCommand = defineCommand({
  name: 'list-namespaces',
  description: 'Show the namespaces of the cluster that you can see',
  requires: 'none',
  flags: KUBE_FLAGS,
  async run(ctx, opts) {
    const kube = kubeFor(ctx, opts);
    const list = await kubeRead(kube, 'list namespaces', () => kube.kc.makeApiClient(CoreV1Api).listNamespace(), ctx.signal);
    const namespaces = list.items.map((n) => n.metadata?.name ?? '').filter((n) => n.length > 0).sort();
    ctx.out.result({ context: kube.contextName, namespaces }, () => (namespaces.length ? namespaces.join('\n') : `No namespaces visible with context ${kube.contextName}`));
  },
});
