import https from 'node:https';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { AGENT_CONTAINER, AGENT_INIT_CONTAINER, AGENT_MESH_REDIRECTS_ENV, AGENT_MESH_UID_ENV, ISTIO_STATUS_ANNOTATION, workloadAgent } from '@tel/agent-config';
import { createLogger } from '@tel/logging';
import { generateWebhookTls } from './certs.js';
import { admit, startWebhookServer, type AdmissionReview, type WebhookDeps } from './webhook.js';

const services: V1Service[] = [{ metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' as never }] } }];
const spec = { containers: [{ name: 'app', image: 'demo:1', ports: [{ name: 'http', containerPort: 8080 }] }] };
const hash = workloadAgent({ workload: { kind: 'Deployment', name: 'web', namespace: 'shop' }, template: { metadata: { labels: { app: 'web' } }, spec }, services, image: 'r/tel2:v1', managerNamespace: 'ambassador' }).hash!;
const pod = (annotation: string | undefined = hash): V1Pod => ({ metadata: { generateName: 'web-abc-', labels: { app: 'web', 'pod-template-hash': 'abc' }, ...(annotation ? { annotations: { 'telepresence.io/agent': annotation } } : {}) }, spec: structuredClone(spec) });
const review = (p: V1Pod): AdmissionReview => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u-1', namespace: 'shop', operation: 'CREATE', object: p } });

function deps(over: Partial<WebhookDeps> = {}): WebhookDeps & { warnings: string[]; serviceCalls: boolean[] } {
  const warnings: string[] = [];
  const serviceCalls: boolean[] = [];
  const log = { ...createLogger(undefined, { level: 'error', stream: { write: () => true } as never }), warn: (m: string) => void warnings.push(m) };
  return {
    managerNamespace: 'ambassador',
    agentImage: 'r/tel2:v1',
    services: async (_ns, fresh = false) => (serviceCalls.push(fresh), services),
    owner: async () => ({ kind: 'Deployment', name: 'web' }),
    log: log as never,
    warnings,
    serviceCalls,
    ...over,
  };
}

const patched = (p: V1Pod, patch: string) => jsonpatch.applyPatch(structuredClone(p), JSON.parse(Buffer.from(patch, 'base64').toString()), true, false).newDocument;

describe('admit', () => {
  it('a pod with the annotation gets the agent (JSONPatch, base64), from the cached Services', async () => {
    const d = deps();
    const r = await admit(review(pod()), d);
    expect(r.response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
    expect(patched(pod(), r.response.patch!).spec!.containers.map((c: { name: string }) => c.name)).toEqual(['app', AGENT_CONTAINER]);
    expect(d.serviceCalls).toEqual([false]);
    expect(d.warnings).toEqual([]);
  });

  it("a pod Istio's own webhook gave a mesh (the template has none): the same hash, so it gets the agent behind the mesh proxy", async () => {
    const d = deps();
    const meshed = pod();
    meshed.metadata!.annotations![ISTIO_STATUS_ANNOTATION] = '{"initContainers":["istio-init"],"containers":["istio-proxy"]}';
    meshed.spec!.initContainers = [{ name: 'istio-init', args: ['istio-iptables', '-u', '1337', '-b', '*', '-d', '15020'] }];
    meshed.spec!.containers.push({ name: 'istio-proxy', securityContext: { runAsUser: 1337 } });
    const r = await admit(review(meshed), d);
    const out = patched(meshed, r.response.patch!);
    expect(out.spec!.containers.map((c: { name: string }) => c.name)).toEqual(['app', 'istio-proxy', AGENT_CONTAINER]);
    const init = out.spec!.initContainers!.find((c: { name: string }) => c.name === AGENT_INIT_CONTAINER)!;
    expect(init.env).toEqual(expect.arrayContaining([{ name: AGENT_MESH_REDIRECTS_ENV, value: '8080:9901' }, { name: AGENT_MESH_UID_ENV, value: '1337' }]));
    expect(out.spec!.containers[0]!.ports).toEqual(spec.containers[0]!.ports); // no port renamed
    expect(d.warnings).toEqual([]);
  });

  it('a pod without the annotation is allowed untouched, without any lookup', async () => {
    const d = deps({ owner: async () => Promise.reject(new Error('must not be called')) });
    expect((await admit(review(pod(undefined)), d)).response).toEqual({ uid: 'u-1', allowed: true });
  });

  it("another hash (another manager's annotation, or a config the workload no longer gives): asks for fresh Services once, then leaves the pod alone", async () => {
    const d = deps();
    const r = await admit(review(pod('0000000000000000')), d);
    expect(r.response).toEqual({ uid: 'u-1', allowed: true });
    expect(d.serviceCalls).toEqual([false, true]);
    expect(d.warnings).toEqual([]);
  });

  it('a pod that already has the agent (another webhook injected it) is allowed untouched, without any lookup', async () => {
    const d = deps();
    const r = await admit(review({ ...pod(), spec: { ...pod().spec!, containers: [...pod().spec!.containers, { name: AGENT_CONTAINER }] } }), d);
    expect(r.response).toEqual({ uid: 'u-1', allowed: true });
    expect(d.serviceCalls).toEqual([]);
  });

  it.each<[string, Partial<WebhookDeps>, V1Pod, RegExp]>([
    ['no owner', { owner: async () => undefined }, pod(), /no Deployment, ReplicaSet or StatefulSet owns it/],
    ['the API fails', { services: async () => Promise.reject(new Error('connection refused')) }, pod(), /connection refused/],
    ['not interceptable any more', { services: async () => [] }, pod(), /no Service selects its pods/],
    ['a pod that cannot take the agent', {}, { ...pod(), spec: { ...pod().spec!, initContainers: [{ name: AGENT_INIT_CONTAINER }] } }, /tel-agent-init/],
  ])('%s: allowed, no patch, one warning', async (_name, over, p, warning) => {
    const d = deps(over);
    const r = await admit(review(p), d);
    expect(r.response).toEqual({ uid: 'u-1', allowed: true });
    expect(d.warnings).toHaveLength(1);
    expect(d.warnings[0]).toMatch(warning);
  });
});

describe('startWebhookServer', () => {
  it('answers AdmissionReviews over HTTPS on /inject; other paths 404', async () => {
    const tls = generateWebhookTls('ambassador');
    const server = await startWebhookServer({ port: 0, host: '127.0.0.1', tls, deps: deps(), log: deps().log });
    const post = (path: string, body: unknown) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: server.port, path, method: 'POST', servername: 'traffic-manager.ambassador.svc', ca: tls.caPem, headers: { 'content-type': 'application/json' } }, (res) => {
          let b = '';
          res.on('data', (d) => (b += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
        });
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
    try {
      const r = await post('/inject?timeout=5s', review(pod()));
      expect(r.status).toBe(200);
      const answer = JSON.parse(r.body);
      expect(answer).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u-1', allowed: true, patchType: 'JSONPatch' } });
      expect((await post('/other', {})).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
