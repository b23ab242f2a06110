// Defaults that every process must agree on (CLI, user daemon, traffic manager): one definition
// each, imported wherever the value is used.

/**
 * Where the traffic manager lives when neither `--manager-namespace` nor the kubeconfig's
 * `telepresence.io` extension (`manager.namespace`) names a namespace: 2.x's default, so a cluster
 * shared with 2.x clients finds the same manager.
 */
export const DEFAULT_MANAGER_NAMESPACE = 'ambassador';
