// The Kubernetes objects `telepresence helm install` creates for one traffic manager, as plain
// data. This file is the single source of truth for names, labels, ports and RBAC rules.
import { AGENT_IMAGE_ENV, MANAGER_SERVICE, WEBHOOK_PATH, WEBHOOK_SERVICE_PORT, WEBHOOK_TLS_SECRET, webhookConfigurationName } from '@tel/agent-config';
import { MANAGER_AGENT_PORT, MANAGER_AGENT_TUNNEL_PORT, MANAGER_API_PORT, MANAGER_HEALTH_PORT, MANAGER_TCP_PORT, MANAGER_WEBHOOK_PORT } from '@tel/contracts';

export { DEFAULT_MANAGER_NAMESPACE } from '@tel/contracts';

/** The manager's Deployment, Service, ServiceAccount and Role (agents and the webhook reach it by this name). */
export const MANAGER_NAME = MANAGER_SERVICE;
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'telepresence';
export const NAME_LABEL = 'app.kubernetes.io/name';
/** On cluster-scoped objects: which manager namespace they belong to (several managers may coexist). */
export const MANAGER_NAMESPACE_LABEL = 'telepresence.io/manager-namespace';
/** On the Deployment: the version of the image it runs (informative; the image tag decides). */
export const VERSION_ANNOTATION = 'telepresence.io/version';
/** On the Deployment: the client→manager API version of that image, for the compatibility policy. */
export const API_VERSION_ANNOTATION = 'telepresence.io/api-version';
export { MANAGER_HEALTH_PORT } from '@tel/contracts';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface ManagerManifestOptions {
  namespace: string;
  image: string;
  version: string;
  apiVersion: number;
  /** Create (and label as ours) the namespace; false when it already exists. */
  createNamespace: boolean;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

/** Cluster-scoped RBAC objects carry the namespace in their name so managers in several namespaces coexist. */
export function clusterRoleName(namespace: string): string {
  return `${MANAGER_NAME}-${namespace}`;
}

const selector = { [NAME_LABEL]: MANAGER_NAME };

/**
 * What the manager reads and probes, the TokenReviews that tell it which service account an
 * agent's token belongs to (agents prove who they are with it), and what injecting agents takes:
 * the template annotation on workloads (patch), their rollout (pods, EndpointSlices), and the
 * caBundle of its own webhook configuration; nothing else.
 */
export function clusterRules(namespace: string) {
  return [
    { apiGroups: [''], resources: ['nodes', 'services', 'pods', 'namespaces'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
    { apiGroups: ['apps'], resources: ['deployments', 'replicasets', 'statefulsets'], verbs: ['get', 'list', 'watch', 'patch'] },
    // Argo Rollouts' Rollouts, when the cluster has them (a rule for an absent resource is harmless).
    { apiGroups: ['argoproj.io'], resources: ['rollouts'], verbs: ['get', 'list', 'watch', 'patch'] },
    // Only for workloads whose pods a template change does not replace: a ReplicaSet without a
    // Deployment, a StatefulSet with the OnDelete strategy.
    { apiGroups: [''], resources: ['pods'], verbs: ['delete'] },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: [webhookConfigurationName(namespace)], verbs: ['get', 'patch'] },
  ];
}
/**
 * In the manager's own namespace: the service-subnet probe (a dry-run Service create) and the
 * webhook certificate's Secret (create cannot be limited to a name; read and replace can).
 */
export const NAMESPACE_RULES = [
  { apiGroups: [''], resources: ['services'], verbs: ['create'] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
  { apiGroups: [''], resources: ['secrets'], resourceNames: [WEBHOOK_TLS_SECRET], verbs: ['get', 'update'] },
];
/** Name of the one webhook in the manager's MutatingWebhookConfiguration. */
export const WEBHOOK_NAME = 'agent-injector.telepresence.io';

/** Every object of one manager, in the order they are applied (reverse for removal). */
export function managerObjects(o: ManagerManifestOptions): KubeObject[] {
  const ns = o.namespace;
  const labels = { [MANAGED_BY_LABEL]: MANAGED_BY, [NAME_LABEL]: MANAGER_NAME };
  const clusterLabels = { ...labels, [MANAGER_NAMESPACE_LABEL]: ns };
  const objects: KubeObject[] = [];
  if (o.createNamespace) {
    objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } } });
  }
  const rbac = 'rbac.authorization.k8s.io';
  const subjects = [{ kind: 'ServiceAccount', name: MANAGER_NAME, namespace: ns }];
  objects.push(
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: MANAGER_NAME, namespace: ns, labels } },
    { apiVersion: `${rbac}/v1`, kind: 'ClusterRole', metadata: { name: clusterRoleName(ns), labels: clusterLabels }, rules: clusterRules(ns) },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: clusterRoleName(ns), labels: clusterLabels },
      roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: clusterRoleName(ns) },
      subjects,
    },
    { apiVersion: `${rbac}/v1`, kind: 'Role', metadata: { name: MANAGER_NAME, namespace: ns, labels }, rules: NAMESPACE_RULES },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'RoleBinding',
      metadata: { name: MANAGER_NAME, namespace: ns, labels },
      roleRef: { apiGroup: rbac, kind: 'Role', name: MANAGER_NAME },
      subjects,
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: MANAGER_NAME, namespace: ns, labels },
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [
          { name: 'agent', port: MANAGER_AGENT_PORT, targetPort: 'agent', protocol: 'TCP' },
          { name: 'agent-tunnel', port: MANAGER_AGENT_TUNNEL_PORT, targetPort: 'agent-tunnel', protocol: 'TCP' },
          { name: 'webhook', port: WEBHOOK_SERVICE_PORT, targetPort: 'webhook', protocol: 'TCP' },
        ],
      },
    },
    webhookConfiguration(ns, clusterLabels),
    managerDeployment(o, labels),
  );
  return objects;
}

/**
 * The webhook that injects agents into pods whose template asks for one. Before the Deployment, so
 * the manager finds it to fill in. No caBundle here: the manager owns it (its own CA, in its
 * Secret), and install keeps the live value when it applies this again.
 * - failurePolicy Ignore: a manager that is down must never block pod creation in the cluster;
 *   such pods simply start without an agent (the intercept reports `webhook-not-called`);
 * - never kube-system nor the manager's own namespace (its own pods must start without it).
 */
function webhookConfiguration(ns: string, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: webhookConfigurationName(ns), labels },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig: { service: { name: MANAGER_NAME, namespace: ns, path: WEBHOOK_PATH, port: WEBHOOK_SERVICE_PORT } },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        timeoutSeconds: 5,
        reinvocationPolicy: 'Never',
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', ns] }] },
      },
    ],
  };
}

/** What the running manager creates itself (install never applies it; uninstall removes it). */
export function managerCreatedObjects(ns: string): KubeObject[] {
  return [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: WEBHOOK_TLS_SECRET, namespace: ns } }];
}

function managerDeployment(o: ManagerManifestOptions, labels: Record<string, string>): KubeObject {
  const annotations = { [VERSION_ANNOTATION]: o.version, [API_VERSION_ANNOTATION]: String(o.apiVersion) };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: MANAGER_NAME, namespace: o.namespace, labels, annotations },
    spec: {
      replicas: 1,
      selector: { matchLabels: selector },
      // Never two versions side by side: clients must see exactly one manager version.
      strategy: { type: 'Recreate' },
      template: {
        metadata: { labels: { ...labels, ...selector }, annotations },
        spec: {
          serviceAccountName: MANAGER_NAME,
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: MANAGER_NAME,
              image: o.image,
              imagePullPolicy: 'IfNotPresent',
              args: ['manager'],
              ports: [
                { name: 'api', containerPort: MANAGER_API_PORT, protocol: 'TCP' },
                { name: 'tcp-tunnel', containerPort: MANAGER_TCP_PORT, protocol: 'TCP' },
                { name: 'health', containerPort: MANAGER_HEALTH_PORT, protocol: 'TCP' },
                { name: 'agent', containerPort: MANAGER_AGENT_PORT, protocol: 'TCP' },
                { name: 'agent-tunnel', containerPort: MANAGER_AGENT_TUNNEL_PORT, protocol: 'TCP' },
                { name: 'webhook', containerPort: MANAGER_WEBHOOK_PORT, protocol: 'TCP' },
              ],
              env: [
                { name: 'MANAGER_API_PORT', value: String(MANAGER_API_PORT) },
                { name: 'MANAGER_TCP_PORT', value: String(MANAGER_TCP_PORT) },
                { name: 'MANAGER_HEALTH_PORT', value: String(MANAGER_HEALTH_PORT) },
                { name: 'TELEPRESENCE_LOG_LEVEL', value: o.logLevel ?? 'info' },
                // Agents run the manager's own image (one image, one version, both roles).
                { name: AGENT_IMAGE_ENV, value: o.image },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              ],
              readinessProbe: { httpGet: { path: '/healthz', port: 'health' }, periodSeconds: 2, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'health' }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 },
              resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '256Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
            },
          ],
        },
      },
    },
  };
}

/** `<registry>/tel2:v2.5.4` → `v2.5.4`; undefined for digests or untagged refs. */
export function imageTag(image: string): string | undefined {
  const ref = image.split('@')[0]!;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? ref.slice(colon + 1) : undefined;
}

/** Plural resource name and API group of each kind we create, for RBAC checks and messages. */
export const RESOURCES: Record<string, { resource: string; group: string; namespaced: boolean }> = {
  Namespace: { resource: 'namespaces', group: '', namespaced: false },
  ServiceAccount: { resource: 'serviceaccounts', group: '', namespaced: true },
  ClusterRole: { resource: 'clusterroles', group: 'rbac.authorization.k8s.io', namespaced: false },
  ClusterRoleBinding: { resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io', namespaced: false },
  Role: { resource: 'roles', group: 'rbac.authorization.k8s.io', namespaced: true },
  RoleBinding: { resource: 'rolebindings', group: 'rbac.authorization.k8s.io', namespaced: true },
  Service: { resource: 'services', group: '', namespaced: true },
  Deployment: { resource: 'deployments', group: 'apps', namespaced: true },
  MutatingWebhookConfiguration: { resource: 'mutatingwebhookconfigurations', group: 'admissionregistration.k8s.io', namespaced: false },
  Secret: { resource: 'secrets', group: '', namespaced: true },
};
