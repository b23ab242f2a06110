import type { V1Container, V1Pod } from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { agentConfig, interceptablePorts, type AgentConfig } from './config.js';
import { AGENT_TOKEN_AUDIENCE } from '@tel/contracts';
import { AGENT_APP_ENV_PREFIX, AGENT_NODE_OPTIONS, AGENT_OWN_ENV, AGENT_CONFIG_ENV, AGENT_CONTAINER, AGENT_INIT_CONTAINER, AGENT_REDIRECTS_ENV, AGENT_TOKEN_DIR, AGENT_TOKEN_PATH, AGENT_TOKEN_VOLUME, WORKLOAD_ANNOTATION } from './names.js';
import { agentPodPatch, templateAnnotationPatch, type JsonPatchOp } from './pod-patch.js';

/** Applies like the API server does: atomically, on a copy; a failed `test` throws. */
const apply = <T>(doc: T, ops: JsonPatchOp[]): T => jsonpatch.applyPatch(structuredClone(doc), ops as jsonpatch.Operation[], true, false).newDocument;

const app: V1Container = {
  name: 'app',
  image: 'demo:1',
  ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9090 }],
  env: [
    { name: 'LITERAL', value: "it's a \"value\" with $dollar" },
    { name: 'FROM_CM', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } },
    { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
    { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory' } } },
  ],
  envFrom: [{ configMapRef: { name: 'cm-all' } }],
  readinessProbe: { httpGet: { path: '/healthz', port: 'http' as never } },
  livenessProbe: { tcpSocket: { port: 9090 as never } },
};
const pod = (containers: V1Container[] = [app], extra: Partial<NonNullable<V1Pod['spec']>> = {}): V1Pod => ({ metadata: { name: 'demo-abc', labels: { app: 'demo' } }, spec: { containers, ...extra } });
const svcPorts = (targetPort: string | number) => [{ metadata: { name: 'demo' }, spec: { selector: { app: 'demo' }, ports: [{ port: 80, targetPort: targetPort as never }] } }];
const configFor = (targetPort: string | number, containers = [app]): AgentConfig =>
  agentConfig({ workload: { kind: 'Deployment', name: 'demo', namespace: 'shop' }, image: 'r/tel2:v1', manager: { namespace: 'ambassador', port: 8082 }, ports: interceptablePorts({ metadata: { labels: { app: 'demo' } }, spec: { containers } }, svcPorts(targetPort)).ports });

describe('agentPodPatch: named targetPort', () => {
  const config = configFor('http');
  const patched = apply(pod(), agentPodPatch(pod(), config));
  const agent = patched.spec!.containers.find((c) => c.name === AGENT_CONTAINER)!;

  it('the agent takes over the port name; the app keeps its number under tel-<name>, its probe follows', () => {
    expect(patched.spec!.containers[0]!.ports).toEqual([{ name: 'tel-http', containerPort: 8080 }, { containerPort: 9090 }]);
    expect(agent.ports).toEqual([{ name: 'http', containerPort: config.ports[0]!.agentPort, protocol: 'TCP' }]);
    expect(patched.spec!.containers[0]!.readinessProbe!.httpGet!.port).toBe('tel-http');
    expect(patched.spec!.containers[0]!.livenessProbe).toEqual(app.livenessProbe);
    expect(patched.spec!.initContainers).toBeUndefined(); // no redirect needed
  });

  it("the agent gets the app's environment as written (the kubelet resolves it the same), resources pinned to the app", () => {
    const env = Object.fromEntries(agent.env!.map((e) => [e.name, e]));
    expect(env.LITERAL).toEqual(app.env![0]);
    expect(env.FROM_CM).toEqual(app.env![1]);
    expect(env.FROM_SECRET).toEqual(app.env![2]);
    expect(env.MEM!.valueFrom!.resourceFieldRef).toEqual({ resource: 'limits.memory', containerName: 'app' });
    expect(agent.envFrom).toEqual(app.envFrom);
    expect(JSON.parse(env[AGENT_CONFIG_ENV]!.value!)).toEqual(config);
    expect(agent.image).toBe('r/tel2:v1');
  });

  it("the agent's Node gets its own NODE_OPTIONS; the app's travels under the agent's prefix for the report", () => {
    const withNodeOptions = { ...app, env: [...app.env!, { name: 'NODE_OPTIONS', value: '--require /app/trace.js' }] };
    const p = apply(pod([withNodeOptions]), agentPodPatch(pod([withNodeOptions]), config));
    const env = p.spec!.containers.find((c) => c.name === AGENT_CONTAINER)!.env!;
    expect(env.filter((e) => e.name === 'NODE_OPTIONS')).toEqual([{ name: 'NODE_OPTIONS', value: AGENT_NODE_OPTIONS }]);
    expect(env.find((e) => e.name === `${AGENT_APP_ENV_PREFIX}NODE_OPTIONS`)?.value).toBe('--require /app/trace.js');
    expect(env.find((e) => e.name === AGENT_OWN_ENV)?.value).toBe('NODE_OPTIONS');
  });

  it('the app container is otherwise untouched (same image, env, command)', () => {
    const { ports: _p, readinessProbe: _r, ...rest } = patched.spec!.containers[0]!;
    const { ports: _p0, readinessProbe: _r0, ...orig } = app;
    expect(rest).toEqual(orig);
  });
});

describe('agentPodPatch: the agent token', () => {
  const tokenVolume = {
    name: AGENT_TOKEN_VOLUME,
    projected: { sources: [{ serviceAccountToken: { audience: AGENT_TOKEN_AUDIENCE, expirationSeconds: 3600, path: 'token' } }] },
  };

  it('a projected token for the manager audience, mounted read-only in the agent container only', () => {
    const patched = apply(pod(), agentPodPatch(pod(), configFor('http')));
    expect(patched.spec!.volumes).toEqual([tokenVolume]);
    const agent = patched.spec!.containers.find((c) => c.name === AGENT_CONTAINER)!;
    expect(agent.volumeMounts).toEqual([{ name: AGENT_TOKEN_VOLUME, mountPath: AGENT_TOKEN_DIR, readOnly: true }]);
    expect(`${AGENT_TOKEN_DIR}/${tokenVolume.projected.sources[0]!.serviceAccountToken.path}`).toBe(AGENT_TOKEN_PATH);
    expect(patched.spec!.containers.filter((c) => c.name !== AGENT_CONTAINER).every((c) => !c.volumeMounts)).toBe(true);
    expect(agent.readinessProbe).toBeUndefined();
  });

  it("appends to the pod's volumes, and refuses a pod that already has a volume of that name", () => {
    const p = pod([app], { volumes: [{ name: 'data', emptyDir: {} }] });
    expect(apply(p, agentPodPatch(p, configFor('http'))).spec!.volumes).toEqual([{ name: 'data', emptyDir: {} }, tokenVolume]);
    const taken = pod([app], { volumes: [{ name: AGENT_TOKEN_VOLUME, emptyDir: {} }] });
    expect(() => agentPodPatch(taken, configFor('http'))).toThrow(expect.objectContaining({ reason: 'container-name-taken' }));
  });
});

describe('agentPodPatch: numeric targetPort', () => {
  it('an init container with NET_ADMIN redirects the port; the node (probes) is exempt; the app is untouched', () => {
    const config = configFor(9090);
    const patched = apply(pod(), agentPodPatch(pod(), config));
    expect(patched.spec!.containers[0]).toEqual(app);
    const init = patched.spec!.initContainers!.find((c) => c.name === AGENT_INIT_CONTAINER)!;
    expect(init.env).toEqual([
      { name: AGENT_REDIRECTS_ENV, value: `9090:${config.ports[0]!.agentPort}` },
      { name: 'TEL_AGENT_HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
    ]);
    expect(init.securityContext!.capabilities).toEqual({ add: ['NET_ADMIN'], drop: ['ALL'] });
    expect(patched.spec!.containers.find((c) => c.name === AGENT_CONTAINER)!.ports).toEqual([{ containerPort: config.ports[0]!.agentPort, protocol: 'TCP' }]);
  });

  it('appends to existing init containers', () => {
    const p = pod([app], { initContainers: [{ name: 'migrate', image: 'm' }] });
    const patched = apply(p, agentPodPatch(p, configFor(9090)));
    expect(patched.spec!.initContainers!.map((c) => c.name)).toEqual(['migrate', AGENT_INIT_CONTAINER]);
  });
});

describe('agentPodPatch refuses, and returns no partial patch', () => {
  it.each<[string, V1Pod, AgentConfig, string]>([
    ['hostNetwork', pod([app], { hostNetwork: true }), configFor('http'), 'host-network'],
    ['a container named traffic-agent', pod([app, { name: AGENT_CONTAINER }]), configFor('http'), 'container-name-taken'],
    ['tel-http already taken', pod([{ ...app, ports: [...app.ports!, { name: 'tel-http', containerPort: 1 }] }]), configFor('http'), 'port-name-taken'],
    ['a port name too long to rename', pod([{ ...app, ports: [{ name: 'very-long-name1', containerPort: 8080 }] }]), configFor('very-long-name1', [{ ...app, ports: [{ name: 'very-long-name1', containerPort: 8080 }] }]), 'port-name-too-long'],
    ['an app variable named like the agent\'s', pod([{ ...app, env: [{ name: 'TEL_AGENT_X', value: '1' }] }]), configFor('http'), 'env-name-taken'],
    ['the container is gone', pod([{ ...app, name: 'renamed' }]), configFor('http'), 'no-ports'],
  ])('%s', (_name, p, config, reason) => {
    expect(() => agentPodPatch(p, config)).toThrow(expect.objectContaining({ reason }));
  });
});

describe('templateAnnotationPatch: the pod template round-trips exactly', () => {
  const deployment = (annotations?: Record<string, string>) => ({ spec: { template: { metadata: { labels: { app: 'demo' }, ...(annotations ? { annotations } : {}) }, spec: { containers: [app] } } } });

  it.each<Record<string, string> | undefined>([undefined, { 'team.example/owner': 'shop' }, { [WORKLOAD_ANNOTATION]: 'stale', other: 'x' }])('annotations %j: set then removed gives back the original', (annotations) => {
    const original = deployment(annotations && { ...annotations });
    const withAgent = apply(original, templateAnnotationPatch(original.spec.template.metadata.annotations, WORKLOAD_ANNOTATION, 'abc123'));
    expect(withAgent.spec.template.metadata.annotations?.[WORKLOAD_ANNOTATION]).toBe('abc123');
    const back = apply(withAgent, templateAnnotationPatch(withAgent.spec.template.metadata.annotations, WORKLOAD_ANNOTATION, undefined));
    const expected = structuredClone(original);
    if (expected.spec.template.metadata.annotations) delete expected.spec.template.metadata.annotations[WORKLOAD_ANNOTATION];
    if (expected.spec.template.metadata.annotations && Object.keys(expected.spec.template.metadata.annotations).length === 0) delete expected.spec.template.metadata.annotations;
    expect(JSON.stringify(back)).toBe(JSON.stringify(expected));
  });

  it('removing when absent is no patch; removing what someone changed meanwhile fails', () => {
    expect(templateAnnotationPatch(undefined, WORKLOAD_ANNOTATION, undefined)).toEqual([]);
    const ops = templateAnnotationPatch({ [WORKLOAD_ANNOTATION]: 'mine' }, WORKLOAD_ANNOTATION, undefined);
    expect(() => apply(deployment({ [WORKLOAD_ANNOTATION]: 'theirs' }), ops)).toThrow();
  });
});
