import type { V1Container, V1Pod, V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { agentConfig, configHash, interceptablePorts, notInterceptable, pickServicePort } from './config.js';
import { AGENT_MESH_REDIRECTS_ENV, AGENT_MESH_UID_ENV, ISTIO_EXCLUDE_INBOUND_ANNOTATION, ISTIO_INCLUDE_INBOUND_ANNOTATION, meshOf } from './mesh.js';
import { AGENT_CONTAINER, AGENT_INIT_CONTAINER, AGENT_REDIRECTS_ENV } from './names.js';
import { agentPodPatch, type JsonPatchOp } from './pod-patch.js';

const apply = <T>(doc: T, ops: JsonPatchOp[]): T => jsonpatch.applyPatch(structuredClone(doc), ops as jsonpatch.Operation[], true, false).newDocument;

const app: V1Container = { name: 'app', image: 'demo:1', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9090 }] };
/** What Istio's injector (or kube-inject, or the test cluster's stand-in) puts into a pod. */
const istioInit = (args: string[] = ['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020']): V1Container => ({
  name: 'istio-init',
  image: 'proxyv2',
  args: ['istio-iptables', ...args],
  securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] }, runAsUser: 0 },
});
const istioProxy = (uid?: number): V1Container => ({ name: 'istio-proxy', image: 'proxyv2', args: ['proxy', 'sidecar'], ports: [{ name: 'http-envoy-prom', containerPort: 15090 }], ...(uid !== undefined ? { securityContext: { runAsUser: uid } } : {}) });
const meshed = (annotations: Record<string, string> = {}, init = istioInit(), proxy = istioProxy(1337)): V1PodTemplateSpec => ({
  metadata: { labels: { app: 'demo' }, annotations: { 'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"]}', ...annotations } },
  spec: { initContainers: [init], containers: [app, proxy] },
});
const services = (targetPort: string | number): V1Service[] => [{ metadata: { name: 'demo' }, spec: { selector: { app: 'demo' }, ports: [{ port: 80, targetPort: targetPort as never }] } }];
const configOf = (tpl: V1PodTemplateSpec, targetPort: string | number) =>
  agentConfig({ workload: { kind: 'Deployment', name: 'demo', namespace: 'shop' }, image: 'r/tel2:v1', manager: { namespace: 'ambassador', port: 8084 }, ports: interceptablePorts(tpl, services(targetPort)).ports });
const podOf = (tpl: V1PodTemplateSpec): V1Pod => ({ metadata: { name: 'demo-abc', ...tpl.metadata }, spec: tpl.spec! });

describe('meshOf', () => {
  it('no Istio containers or status annotation: no mesh', () => {
    expect(meshOf({ labels: { app: 'demo' } }, { containers: [app] })).toBeUndefined();
  });
  it.each<[string, V1PodTemplateSpec, number]>([
    ["istio-init's -u wins", meshed({}, istioInit(['-u', '2000', '-b', '*']), istioProxy(1337)), 2000],
    ["the proxy's runAsUser without -u", meshed({}, istioInit(['-b', '*']), istioProxy(1500)), 1500],
    ['1337 when neither says', meshed({}, istioInit(['-b', '*']), istioProxy()), 1337],
    ['the CNI plugin (no init container): the proxy container alone', { metadata: {}, spec: { containers: [app, istioProxy(1400)] } }, 1400],
    ['a native sidecar (the proxy among the init containers)', { metadata: {}, spec: { initContainers: [istioInit(['--proxy-uid=1600']), { ...istioProxy(), restartPolicy: 'Always' }], containers: [app] } }, 1600],
  ])('proxy UID: %s', (_n, tpl, uid) => {
    expect(meshOf(tpl.metadata, tpl.spec)?.proxyUid).toBe(uid);
  });
  it('interception mode NONE: the proxy captures nothing, so no mesh in the path', () => {
    const tpl = meshed({ 'sidecar.istio.io/interceptionMode': 'NONE' });
    expect(meshOf(tpl.metadata, tpl.spec)).toBeUndefined();
  });
  it.each<[string, V1PodTemplateSpec, number, string | undefined]>([
    ['captured by -b *', meshed(), 8080, undefined],
    ["excluded by istio-init's -d, named by the annotation it came from", meshed({ [ISTIO_EXCLUDE_INBOUND_ANNOTATION]: '8080' }, istioInit(['-b', '*', '-d', '15090,15021,15020,8080'])), 8080, `${ISTIO_EXCLUDE_INBOUND_ANNOTATION}="8080" lists 8080`],
    ["excluded by istio-init's -d alone", meshed({}, istioInit(['-b', '*', '-d', '8080'])), 8080, `istio-init's -d "8080" lists 8080`],
    ['an include list without the port', meshed({ [ISTIO_INCLUDE_INBOUND_ANNOTATION]: '9090' }, istioInit(['-b', '9090'])), 8080, `${ISTIO_INCLUDE_INBOUND_ANNOTATION}="9090" does not list 8080`],
    ['an include list with the port', meshed({}, istioInit(['-b', '9090,8080'])), 8080, undefined],
    ['the CNI plugin: the annotations decide', { metadata: { annotations: { [ISTIO_EXCLUDE_INBOUND_ANNOTATION]: '8080, 9090' } }, spec: { containers: [app, istioProxy()] } }, 8080, `${ISTIO_EXCLUDE_INBOUND_ANNOTATION}="8080, 9090" lists 8080`],
  ])('inbound capture: %s', (_n, tpl, port, why) => {
    expect(meshOf(tpl.metadata, tpl.spec)!.inboundHides(port)).toBe(why);
  });
});

describe('interceptable ports behind a mesh', () => {
  it("the proxy container is no app: an undeclared numeric port is the one app container's", () => {
    const tpl = meshed();
    tpl.spec!.containers[0] = { name: 'app', image: 'demo:1' };
    expect(interceptablePorts(tpl, services(8080)).ports).toEqual([expect.objectContaining({ container: 'app', appPort: 8080 })]);
  });
  it('a port the mesh hides is listed, marked, and refused by pickServicePort in one line that says how to fix it', () => {
    const tpl = meshed({ [ISTIO_EXCLUDE_INBOUND_ANNOTATION]: '8080' }, istioInit(['-b', '*', '-d', '15020,8080']));
    expect(notInterceptable(tpl, services(8080))).toBeUndefined();
    const { ports } = interceptablePorts(tpl, services(8080));
    const picked = pickServicePort(ports, {});
    expect(picked).toBe(`port demo:80 (pod port 8080) bypasses the service mesh's proxy, which the traffic agent sits behind: ${ISTIO_EXCLUDE_INBOUND_ANNOTATION}="8080" lists 8080; let the mesh capture port 8080 to intercept it`);
    expect(picked).not.toContain('\n');
  });
  it('the config (and its hash) is the same whether the mesh is in the template or only in the pod', () => {
    const plain: V1PodTemplateSpec = { metadata: { labels: { app: 'demo' }, annotations: { [ISTIO_EXCLUDE_INBOUND_ANNOTATION]: '8080' } }, spec: { containers: [app] } };
    const withMesh = meshed({ [ISTIO_EXCLUDE_INBOUND_ANNOTATION]: '8080' }, istioInit(['-b', '*', '-d', '8080']));
    expect(configHash(configOf(withMesh, 8080))).toBe(configHash(configOf(plain, 8080)));
    expect(JSON.stringify(configOf(withMesh, 8080))).not.toContain('meshHidden');
  });
});

describe('agentPodPatch behind a mesh', () => {
  const initOf = (p: V1Pod) => p.spec!.initContainers!.find((c) => c.name === AGENT_INIT_CONTAINER)!;
  const envOf = (c: V1Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

  it.each([
    ['numeric', 8080],
    ['named', 'http'],
  ])('%s targetPort: no port renamed; the init container takes the proxy\'s dials to the app port, after the mesh\'s init', (_n, target) => {
    const tpl = meshed();
    const config = configOf(tpl, target);
    const patched = apply(podOf(tpl), agentPodPatch(podOf(tpl), config));
    expect(patched.spec!.containers[0]).toEqual(app);
    const agent = patched.spec!.containers.find((c) => c.name === AGENT_CONTAINER)!;
    expect(agent.ports).toEqual([{ containerPort: config.ports[0]!.agentPort, protocol: 'TCP' }]);
    expect(patched.spec!.initContainers!.map((c) => c.name)).toEqual(['istio-init', AGENT_INIT_CONTAINER]);
    const env = envOf(initOf(patched));
    expect(env[AGENT_MESH_REDIRECTS_ENV]).toBe(`8080:${config.ports[0]!.agentPort}`);
    expect(env[AGENT_MESH_UID_ENV]).toBe('1337');
    expect(env[AGENT_REDIRECTS_ENV]).toBeUndefined();
  });

  it('a port the mesh does not capture arrives directly: handled as without a mesh (the manager refuses to intercept it)', () => {
    const tpl = meshed({}, istioInit(['-b', '*', '-d', '8080']));
    const config = configOf(tpl, 'http');
    const patched = apply(podOf(tpl), agentPodPatch(podOf(tpl), config));
    expect(patched.spec!.containers[0]!.ports![0]!.name).toBe('tel-http');
    expect(initOf(patched)).toBeUndefined();
  });

  it("a pod whose containers all run as the proxy's UID is refused in one line (the agent's dials would loop back to it)", () => {
    const tpl = meshed();
    tpl.spec!.securityContext = { runAsUser: 1337 };
    expect(() => agentPodPatch(podOf(tpl), configOf(tpl, 8080))).toThrow("the pod runs as UID 1337, the service mesh proxy's, which the traffic agent can't tell apart from the proxy");
  });

  it('the mesh only in the pod (injected by its own webhook) is found there', () => {
    const plain: V1PodTemplateSpec = { metadata: { labels: { app: 'demo' } }, spec: { containers: [app] } };
    const config = configOf(plain, 9090);
    const patched = apply(podOf(meshed()), agentPodPatch(podOf(meshed()), config));
    expect(envOf(initOf(patched))[AGENT_MESH_REDIRECTS_ENV]).toBe(`9090:${config.ports[0]!.agentPort}`);
  });
});
