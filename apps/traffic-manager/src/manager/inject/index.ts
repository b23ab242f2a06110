// The manager's agent injector: the webhook (with its certificate and caBundle) and the workload
// operations the intercept logic calls. One factory; run.ts starts it and waits for `ready`.
import type { KubeConfig } from '@kubernetes/client-node';
import net from 'node:net';
import { MANAGER_SERVICE, WEBHOOK_SERVICE_PORT, webhookConfigurationName } from '@tel/agent-config';
import { MANAGER_WEBHOOK_PORT } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { ensureWebhookTls, patchCaBundle } from './certs.js';
import { ownerResolver, servicesCache, startWebhookServer } from './webhook.js';
import { workloadInjector, type WorkloadInjector } from './workloads.js';

export { InjectError, workloadInjector, type WorkloadInfo, type WorkloadInjector, type WorkloadRef, type RolloutStatus } from './workloads.js';
export { rolloutStatus } from './rollout.js';
export { AGENT_IMAGE_ENV } from '@tel/agent-config';

export interface Injector extends WorkloadInjector {
  /** Resolves once the API server trusts the webhook (caBundle patched, or no configuration to patch). */
  readonly ready: Promise<void>;
  /** True once `ready` resolved: for the readiness probe. */
  isReady(): boolean;
  /** The webhook's port (MANAGER_WEBHOOK_PORT unless told otherwise). */
  readonly webhookPort: number;
  close(): Promise<void>;
}

const SERVICE_ROUTE_WAIT_MS = 5_000;

/** Resolves once `host:port` accepts a TCP connection, or after `waitMs` (with a warning). */
async function untilReachable(host: string, port: number, waitMs: number, signal: AbortSignal, log: Logger): Promise<void> {
  const until = Date.now() + waitMs;
  while (!signal.aborted) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port, timeout: 1_000 });
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.once('connect', () => done(true));
      s.once('error', () => done(false));
      s.once('timeout', () => done(false));
    });
    if (ok) return;
    if (Date.now() >= until) {
      log.warn(`the webhook does not answer through ${host}:${port} from the manager; going on (pods created before the API server reaches it get no agent)`);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** How often the caBundle is checked again: a re-install or someone's edit must not leave it wrong for long. */
const CA_RECHECK_MS = 30_000;

/**
 * 1. the webhook certificate from its Secret (created or replaced when needed);
 * 2. the HTTPS webhook server;
 * 3. the caBundle of the manager's MutatingWebhookConfiguration, retried until it is in place
 *    (`ready`), then checked again every 30 s.
 */
export async function startInjector(opts: { kc: KubeConfig; namespace: string; log: Logger; agentImage: string; logLevel?: string; webhookPort?: number; webhookHost?: string }): Promise<Injector> {
  const log = opts.log.child('inject');
  const tls = await ensureWebhookTls(opts.kc, opts.namespace, log);
  const server = await startWebhookServer({
    port: opts.webhookPort ?? MANAGER_WEBHOOK_PORT,
    ...(opts.webhookHost ? { host: opts.webhookHost } : {}),
    tls,
    deps: { managerNamespace: opts.namespace, agentImage: opts.agentImage, ...(opts.logLevel ? { logLevel: opts.logLevel } : {}), services: servicesCache(opts.kc), owner: ownerResolver(opts.kc), log },
    log,
  });
  const mwc = webhookConfigurationName(opts.namespace);
  const stop = new AbortController();
  let ready = false;
  let timer: NodeJS.Timeout | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      timer = setTimeout(r, ms);
      stop.signal.addEventListener('abort', () => (clearTimeout(timer), r()), { once: true });
    });
  const readyPromise = (async () => {
    for (let delay = 500; !stop.signal.aborted; delay = Math.min(delay * 2, 10_000)) {
      try {
        const r = await patchCaBundle(opts.kc, mwc, tls.caPem);
        if (r === 'absent') log.warn(`MutatingWebhookConfiguration ${mwc} does not exist: no pod will get a traffic agent; run 'telepresence helm install' again`);
        else log.info(`webhook CA ${r === 'patched' ? 'put into' : 'already in'} MutatingWebhookConfiguration ${mwc}`);
        ready = true;
        return;
      } catch (err) {
        log.warn(`cannot set the caBundle of MutatingWebhookConfiguration ${mwc}, retrying`, { error: err instanceof Error ? err.message : String(err) });
        await sleep(delay);
      }
    }
  })();
  void readyPromise.then(async () => {
    while (!stop.signal.aborted) {
      await sleep(CA_RECHECK_MS);
      if (stop.signal.aborted) return;
      const r = await patchCaBundle(opts.kc, mwc, tls.caPem).catch((err: unknown) => (log.debug('caBundle check failed', { error: String(err) }), 'failed'));
      if (r === 'patched') log.warn(`the caBundle of MutatingWebhookConfiguration ${mwc} had changed: put the webhook CA back`);
    }
  });
  const workloads = workloadInjector({ kc: opts.kc, namespace: opts.namespace, log, agentImage: opts.agentImage });
  // The API server calls the webhook through the manager's Service. Right after the manager
  // became ready, kube-proxy may not route that Service to it yet, and a pod created then is
  // admitted without the agent (failurePolicy Ignore). Before the first agent is wanted, wait
  // until the Service answers from here (once per manager; a cluster without hairpin routing,
  // where a pod cannot reach itself through its Service, costs that first intercept the wait).
  let routed: Promise<void> | undefined;
  const serviceRouted = () => (routed ??= untilReachable(`${MANAGER_SERVICE}.${opts.namespace}.svc`, WEBHOOK_SERVICE_PORT, SERVICE_ROUTE_WAIT_MS, stop.signal, log));
  return {
    ...workloads,
    ensureAgent: async (info) => {
      await serviceRouted();
      return workloads.ensureAgent(info);
    },
    ready: readyPromise,
    isReady: () => ready,
    webhookPort: server.port,
    async close() {
      stop.abort();
      await server.close();
    },
  };
}
