// The manager's mutating admission webhook (HTTPS, AdmissionReview v1): a pod whose template
// carries the agent annotation gets the traffic agent. The config is recomputed from the pod
// itself, so the webhook needs no state shared with the intercept logic. It never refuses a pod
// and never half-injects: anything wrong → the pod is allowed unchanged and a warning is logged.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { AGENT_CONTAINER, agentPodPatch, ROLLOUT_API, WEBHOOK_PATH, WORKLOAD_ANNOTATION, workloadAgent } from '@tel/agent-config';
import type { WorkloadKind } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import type { WebhookTls } from './certs.js';

/** The fields of an AdmissionReview v1 the webhook reads. */
export interface AdmissionReview {
  apiVersion?: string;
  kind?: string;
  request?: { uid: string; namespace?: string; operation?: string; object?: V1Pod; dryRun?: boolean };
}

export interface AdmissionResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: { uid: string; allowed: true; patchType?: 'JSONPatch'; patch?: string };
}

export interface WebhookDeps {
  managerNamespace: string;
  agentImage: string;
  /** Passed on to the agents it injects. */
  logLevel?: string;
  /** The namespace's Services; `fresh` skips any cache. */
  services: (namespace: string, fresh?: boolean) => Promise<V1Service[]>;
  /** The workload that owns the pod (a ReplicaSet's Deployment, found through the ReplicaSet). */
  owner: (pod: V1Pod, namespace: string) => Promise<{ kind: WorkloadKind; name: string } | undefined>;
  log: Logger;
}

/** The answer for one review; never throws, never refuses. */
export async function admit(review: AdmissionReview, deps: WebhookDeps): Promise<AdmissionResponse> {
  const req = review.request;
  const uid = req?.uid ?? '';
  const allow = (): AdmissionResponse => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } });
  const pod = req?.object;
  const wanted = pod?.metadata?.annotations?.[WORKLOAD_ANNOTATION];
  if (!req || !pod || wanted === undefined) return allow();
  const namespace = req.namespace ?? pod.metadata?.namespace ?? '';
  const podName = pod.metadata?.name || `${pod.metadata?.generateName ?? ''}<new>`;
  const leave = (why: string) => {
    deps.log.warn(`webhook: pod ${namespace}/${podName} left without the traffic agent: ${why}`);
    return allow();
  };
  // Injected already (by the webhook of another manager this pod's annotation was meant for).
  if ((pod.spec?.containers ?? []).some((c) => c.name === AGENT_CONTAINER)) return allow();
  try {
    const owner = await deps.owner(pod, namespace);
    if (!owner) return leave('no Deployment, ReplicaSet or StatefulSet owns it');
    const compute = async (fresh: boolean) =>
      workloadAgent({ workload: { ...owner, namespace }, template: { metadata: pod.metadata!, spec: pod.spec! }, services: await deps.services(namespace, fresh), image: deps.agentImage, managerNamespace: deps.managerNamespace });
    let agent = await compute(false);
    // The cache may predate a Service change the manager already saw: ask once more.
    if (agent.hash !== wanted) agent = await compute(true);
    if (agent.problem || !agent.config) return leave(agent.problem?.message ?? 'no agent config');
    // Another hash: the annotation was set by a manager in another namespace (its config names
    // that manager), or for a config this workload no longer gives (the manager that wants an
    // agent sets the annotation again). Either way not this manager's to inject.
    if (agent.hash !== wanted) {
      deps.log.debug(`webhook: pod ${namespace}/${podName} of ${owner.kind.toLowerCase()}/${owner.name} wants agent config ${wanted}; this manager gives ${agent.hash}: not ours`);
      return allow();
    }
    const ops = agentPodPatch(pod, agent.config, deps.logLevel ? { logLevel: deps.logLevel } : {});
    deps.log.debug(`webhook: injecting the traffic agent into pod ${namespace}/${podName}`, { hash: agent.hash });
    return { ...allow(), response: { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') } };
  } catch (err) {
    return leave(err instanceof Error ? err.message : String(err));
  }
}

/** The namespace's Services, listed at most every `ttlMs` (admission calls must be fast). */
export function servicesCache(kc: KubeConfig, ttlMs = 2000): (namespace: string, fresh?: boolean) => Promise<V1Service[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const cache = new Map<string, { at: number; items: Promise<V1Service[]> }>();
  return (namespace, fresh = false) => {
    const hit = cache.get(namespace);
    if (!fresh && hit && Date.now() - hit.at < ttlMs) return hit.items;
    const items = core.listNamespacedService({ namespace }).then((l) => l.items);
    cache.set(namespace, { at: Date.now(), items });
    items.catch(() => cache.delete(namespace));
    for (const [k, v] of cache) if (Date.now() - v.at > 60_000) cache.delete(k);
    return items;
  };
}

const isArgoRollout = (o: { apiVersion: string; kind: string }) => o.kind === ROLLOUT_API.kind && o.apiVersion.split('/')[0] === ROLLOUT_API.group;

/** Pod → workload by ownerReferences; a ReplicaSet's own owner (Deployment or Argo Rollout) is read once and remembered by uid. */
export function ownerResolver(kc: KubeConfig): WebhookDeps['owner'] {
  const apps = kc.makeApiClient(AppsV1Api);
  const rsOwners = new Map<string, { kind: WorkloadKind; name: string }>();
  return async (pod, namespace) => {
    const ref = pod.metadata?.ownerReferences?.find((o) => o.controller);
    if (!ref) return undefined;
    if (ref.kind === 'StatefulSet') return { kind: 'StatefulSet', name: ref.name };
    if (ref.kind !== 'ReplicaSet') return undefined;
    const known = rsOwners.get(ref.uid);
    if (known) return known;
    const rs = await apps.readNamespacedReplicaSet({ name: ref.name, namespace });
    const rsOwner = rs.metadata?.ownerReferences?.find((o) => o.controller);
    const owner: { kind: WorkloadKind; name: string } | undefined = !rsOwner ? { kind: 'ReplicaSet', name: ref.name } : rsOwner.kind === 'Deployment' ? { kind: 'Deployment', name: rsOwner.name } : isArgoRollout(rsOwner) ? { kind: 'Rollout', name: rsOwner.name } : undefined;
    if (owner) {
      if (rsOwners.size > 10_000) rsOwners.clear();
      rsOwners.set(ref.uid, owner);
    }
    return owner;
  };
}

export interface WebhookServer {
  port: number;
  close(): Promise<void>;
}

const MAX_REVIEW_BYTES = 8 << 20;

/** HTTPS on `port` (all interfaces: the API server reaches it through the manager's Service). */
export async function startWebhookServer(opts: { port: number; host?: string; tls: WebhookTls; deps: WebhookDeps; log: Logger }): Promise<WebhookServer> {
  const server = https.createServer({ key: opts.tls.keyPem, cert: opts.tls.certPem }, (req, res) => {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== WEBHOOK_PATH) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REVIEW_BYTES) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let review: AdmissionReview;
      try {
        review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReview;
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('body is not an AdmissionReview');
        return;
      }
      const t0 = performance.now();
      void admit(review, opts.deps).then((answer) => {
        opts.log.info('webhook: admission answered', { ms: Math.round(performance.now() - t0), patched: answer.response.patch !== undefined });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
