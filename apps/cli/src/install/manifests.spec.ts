import { describe, expect, it } from 'vitest';
import { MANAGER_AGENT_PORT, MANAGER_AGENT_TUNNEL_PORT, MANAGER_API_PORT, MANAGER_TCP_PORT, MANAGER_WEBHOOK_PORT } from '@tel/contracts';
import { API_VERSION_ANNOTATION, imageTag, MANAGED_BY_LABEL, MANAGER_HEALTH_PORT, MANAGER_NAMESPACE_LABEL, managerCreatedObjects, managerObjects, RESOURCES, VERSION_ANNOTATION } from './manifests.js';

const base = { namespace: 'ambassador', image: 'registry.example.com/team/tel2:v2.5.4', version: 'v2.5.4', apiVersion: 1 };

describe('managerObjects', () => {
  it('creates the namespace only when asked, and everything in a fixed order', () => {
    expect(managerObjects({ ...base, createNamespace: true }).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/ambassador',
      'ServiceAccount/traffic-manager',
      'ClusterRole/traffic-manager-ambassador',
      'ClusterRoleBinding/traffic-manager-ambassador',
      'Role/traffic-manager',
      'RoleBinding/traffic-manager',
      'Service/traffic-manager',
      'MutatingWebhookConfiguration/traffic-manager-ambassador',
      'Deployment/traffic-manager',
    ]);
    expect(managerObjects({ ...base, createNamespace: false }).some((o) => o.kind === 'Namespace')).toBe(false);
  });

  it('labels every object as managed by telepresence and puts namespaced ones in the manager namespace', () => {
    for (const o of managerObjects({ ...base, namespace: 'tel-x', createNamespace: true })) {
      expect(o.metadata.labels?.[MANAGED_BY_LABEL]).toBe('telepresence');
      expect(RESOURCES[o.kind]).toBeDefined();
      if (RESOURCES[o.kind]!.namespaced) expect(o.metadata.namespace).toBe('tel-x');
      else expect(o.metadata.namespace).toBeUndefined();
    }
  });

  it('the Deployment runs the image as manager, carries version annotations and probes HTTP/1.1 health', () => {
    const d = managerObjects({ ...base, createNamespace: false }).find((o) => o.kind === 'Deployment')!;
    expect(d.metadata.annotations).toEqual({ [VERSION_ANNOTATION]: 'v2.5.4', [API_VERSION_ANNOTATION]: '1' });
    const spec = d.spec as any;
    expect(spec.strategy).toEqual({ type: 'Recreate' });
    const c = spec.template.spec.containers[0];
    expect(c.image).toBe(base.image);
    expect(c.args).toEqual(['manager']);
    expect(c.ports).toEqual([
      { name: 'api', containerPort: MANAGER_API_PORT, protocol: 'TCP' },
      { name: 'tcp-tunnel', containerPort: MANAGER_TCP_PORT, protocol: 'TCP' },
      { name: 'health', containerPort: MANAGER_HEALTH_PORT, protocol: 'TCP' },
      { name: 'agent', containerPort: MANAGER_AGENT_PORT, protocol: 'TCP' },
      { name: 'agent-tunnel', containerPort: MANAGER_AGENT_TUNNEL_PORT, protocol: 'TCP' },
      { name: 'webhook', containerPort: MANAGER_WEBHOOK_PORT, protocol: 'TCP' },
    ]);
    expect(c.env).toContainEqual({ name: 'AGENT_IMAGE', value: base.image });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'traffic-manager' });
    for (const [k, v] of Object.entries(spec.selector.matchLabels)) expect(spec.template.metadata.labels[k]).toBe(v);
  });

  it('the Service reaches the agent ports and the webhook (443 → webhook); the client ports stay off it', () => {
    const svc = managerObjects({ ...base, createNamespace: false }).find((o) => o.kind === 'Service') as any;
    expect(svc.spec.ports).toEqual([
      { name: 'agent', port: MANAGER_AGENT_PORT, targetPort: 'agent', protocol: 'TCP' },
      { name: 'agent-tunnel', port: MANAGER_AGENT_TUNNEL_PORT, targetPort: 'agent-tunnel', protocol: 'TCP' },
      { name: 'webhook', port: 443, targetPort: 'webhook', protocol: 'TCP' },
    ]);
  });

  it('the webhook: pod creation only, through the Service, Ignore on failure, never kube-system or its own namespace, no caBundle', () => {
    const mwc = managerObjects({ ...base, createNamespace: false }).find((o) => o.kind === 'MutatingWebhookConfiguration') as any;
    expect(mwc.metadata.labels[MANAGER_NAMESPACE_LABEL]).toBe('ambassador');
    expect(mwc.webhooks).toHaveLength(1);
    const w = mwc.webhooks[0];
    expect(w.clientConfig).toEqual({ service: { name: 'traffic-manager', namespace: 'ambassador', path: '/inject', port: 443 } });
    expect(w.rules).toEqual([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    expect(w).toMatchObject({ failurePolicy: 'Ignore', sideEffects: 'None', timeoutSeconds: 5, admissionReviewVersions: ['v1'] });
    expect(w.namespaceSelector).toEqual({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'ambassador'] }] });
  });

  it('what the manager creates itself (uninstall removes it)', () => {
    expect(managerCreatedObjects('ambassador').map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['Secret/ambassador/traffic-manager-webhook-tls']);
  });

  it('RBAC: read-only cluster-wide, token reviews (agent identity), injection (workload patch, pods delete, its own webhook); service create and its Secret only in its namespace', () => {
    const objs = managerObjects({ ...base, createNamespace: false });
    const cr = objs.find((o) => o.kind === 'ClusterRole') as any;
    expect(cr.rules).toEqual([
      { apiGroups: [''], resources: ['nodes', 'services', 'pods', 'namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['apps'], resources: ['deployments', 'replicasets', 'statefulsets'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: ['argoproj.io'], resources: ['rollouts'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['delete'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: ['traffic-manager-ambassador'], verbs: ['get', 'patch'] },
    ]);
    const role = objs.find((o) => o.kind === 'Role') as any;
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['services'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['traffic-manager-webhook-tls'], verbs: ['get', 'update'] },
    ]);
    const crb = objs.find((o) => o.kind === 'ClusterRoleBinding') as any;
    expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'traffic-manager', namespace: 'ambassador' }]);
    expect(crb.roleRef.name).toBe(cr.metadata.name);
  });
});

describe('imageTag', () => {
  it.each([
    ['registry.example.com/team/tel2:v2.5.4', 'v2.5.4'],
    ['127.0.0.1:5077/tel2:v2.5.4-2-g8ccf3c9d', 'v2.5.4-2-g8ccf3c9d'],
    ['127.0.0.1:5077/tel2', undefined],
    ['tel2:v1@sha256:abc', 'v1'],
  ])('%s', (image, tag) => expect(imageTag(image)).toBe(tag));
});
