// The manager's agent injector: the webhook (with its certificate and caBundle) and the workload
// operations the intercept logic calls. One factory; run.ts starts it and waits for `ready`.
import type { KubeConfig } from '@kubernetes/client-node';
import { webhookConfigurationName } from '@tel/agent-config';
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
  return {
    ...workloads,
    ready: readyPromise,
    isReady: () => ready,
    webhookPort: server.port,
    async close() {
      stop.abort();
      await server.close();
    },
  };
}
