// e2e helper run inside the workstation network namespace (where the API server is reachable):
// `node --import tsx driver.ts '<json>'` runs one Injector operation as the cluster admin and
// prints one JSON line. The e2e spec (apps/cli/src/install/inject.e2e.spec.ts) drives it.
import { KubeConfig } from '@kubernetes/client-node';
import type { WorkloadKind } from '@tel/contracts';
import { toErrorInfo } from '@tel/errors';
import { createLogger } from '@tel/logging';
import { workloadInjector, type RolloutStatus } from '../index.js';

export type InjectDriverRequest = {
  kubeconfig: string;
  managerNamespace: string;
  agentImage: string;
  namespace: string;
  name: string;
  kind?: WorkloadKind;
} & ({ action: 'describe' | 'remove' } | { action: 'ensure'; rolloutMs?: number } | { action: 'rollout'; hash?: string; timeoutMs: number; until: 'done' | 'failure' });

type Injector = ReturnType<typeof workloadInjector>;

/** Statuses of watchRollout until done (or, with until 'failure', a failure) or the timeout. */
async function follow(injector: Injector, req: InjectDriverRequest, hash: string | undefined, timeoutMs: number, until: 'done' | 'failure') {
  const statuses: (RolloutStatus & { atMs: number })[] = [];
  const ac = new AbortController();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    injector.watchRollout({ namespace: req.namespace, name: req.name, kind: req.kind ?? 'Deployment' }, hash, (s) => {
      statuses.push({ ...s, atMs: Math.round(performance.now() - t0) });
      if ((until === 'done' && s.done) || s.failure) {
        clearTimeout(timer);
        resolve();
      }
    }, ac.signal);
  });
  ac.abort();
  return { statuses, final: statuses.at(-1) };
}

async function main(req: InjectDriverRequest): Promise<unknown> {
  const kc = new KubeConfig();
  kc.loadFromFile(req.kubeconfig);
  const log = createLogger(undefined, { level: 'error', stream: process.stderr });
  const injector = workloadInjector({ kc, namespace: req.managerNamespace, log, agentImage: req.agentImage });
  switch (req.action) {
    case 'describe': {
      const i = await injector.describe(req.namespace, req.name, req.kind);
      return { ref: i.ref, hash: i.hash, currentHash: i.currentHash, replicas: i.replicas, config: i.config, problem: i.problem?.message };
    }
    case 'ensure': {
      // With rolloutMs: the rollout is watched from the moment the annotation is set (the time an intercept waits).
      const t0 = performance.now();
      const i = await injector.describe(req.namespace, req.name, req.kind);
      const r = { ref: i.ref, hash: i.hash, config: i.config, ...(await injector.ensureAgent(i)) };
      if (!req.rolloutMs) return r;
      const rollout = await follow(injector, { ...req, kind: i.ref.kind }, i.hash, req.rolloutMs, 'done');
      return { ...r, rollout, totalMs: Math.round(performance.now() - t0) };
    }
    case 'remove':
      return { changed: await injector.removeAgent({ namespace: req.namespace, name: req.name, kind: req.kind ?? 'Deployment' }) };
    case 'rollout':
      return follow(injector, req, req.hash, req.timeoutMs, req.until);
  }
}

main(JSON.parse(process.argv[2] ?? '{}') as InjectDriverRequest).then(
  (result) => {
    process.stdout.write(JSON.stringify({ ok: true, result }) + '\n');
    process.exit(0);
  },
  (err: unknown) => {
    process.stdout.write(JSON.stringify({ ok: false, error: { ...toErrorInfo(err), code: (err as { code?: unknown }).code } }) + '\n');
    process.exit(0);
  },
);
