// Kubernetes objects `up` applies: CoreDNS (in kube-system, Service at the fixed cluster DNS IP),
// the manager namespace, and the restricted developer's RBAC.
import { CLUSTER_DOMAIN, COREDNS_VERSION, DEVELOPER_USER, MANAGER_NAMESPACE, NET, type Layout } from './layout.js';

type Obj = Record<string, unknown>;

export const COREDNS_IMAGE = (l: Layout) => `${l.registry}/coredns:${COREDNS_VERSION}`;

export function corefile(): string {
  return `.:53 {
    errors
    health :8080
    ready :8181
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    forward . ${NET.inetDnsIp}
    cache 5
    loadbalance
}
`;
}

export function coreDnsObjects(l: Layout): Obj[] {
  const ns = 'kube-system';
  const labels = { 'k8s-app': 'kube-dns' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: ns }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: ns }, data: { Corefile: corefile() } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            dnsPolicy: 'Default',
            priorityClassName: 'system-cluster-critical',
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'coredns',
                image: COREDNS_IMAGE(l),
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '128Mi' } },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 1, failureThreshold: 3 },
                livenessProbe: { httpGet: { path: '/health', port: 8080 }, initialDelaySeconds: 10, periodSeconds: 10 },
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: ns, labels },
      spec: {
        selector: labels,
        clusterIP: NET.dnsServiceIp,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
      },
    },
  ];
}

/**
 * The developer may only: list namespaces; get/list/watch pods and create pods/portforward in the
 * manager namespace; read services and workloads cluster-wide.
 */
export function developerObjects(): Obj[] {
  const subject = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: DEVELOPER_USER }];
  const read = ['get', 'list', 'watch'];
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: MANAGER_NAMESPACE } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'tptc:developer' },
      rules: [
        { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
        { apiGroups: [''], resources: ['services'], verbs: read },
        { apiGroups: ['apps'], resources: ['deployments', 'replicasets', 'statefulsets'], verbs: read },
        { apiGroups: ['argoproj.io'], resources: ['rollouts'], verbs: read },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'tptc:developer' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tptc:developer' },
      subjects: subject,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'tptc:developer', namespace: MANAGER_NAMESPACE },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: read },
        { apiGroups: [''], resources: ['pods/portforward'], verbs: ['create'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'tptc:developer', namespace: MANAGER_NAMESPACE },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tptc:developer' },
      subjects: subject,
    },
  ];
}

export function asList(items: Obj[]): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) + '\n';
}
