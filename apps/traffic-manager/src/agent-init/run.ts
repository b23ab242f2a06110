// The `agent-init` role: runs as the injected pod's init container (the only one with NET_ADMIN)
// and redirects the app's numeric target ports to the traffic agent inside the pod's network
// namespace. Probes from the node keep reaching the app (see rules.ts).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TelError } from '@tel/errors';
import { createLogger, parseLevel } from '@tel/logging';
import { initPlan, nftScript } from './rules.js';

export interface AgentInitDeps {
  readRoutes?: () => string;
  /** Runs `nft -f -` with the script on stdin. */
  nft?: (script: string) => Promise<void>;
}

const NFT = '/usr/sbin/nft';

function runNft(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(NFT, ['-f', '-'], { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) reject(new TelError('cluster', `nft failed: ${(stderr || err.message).trim().split('\n').join(' ')}`, 'the init container needs NET_ADMIN and runs as root; check its securityContext'));
      else resolve();
    });
    child.stdin?.end(script);
  });
}

/**
 * 1. read the redirects and the host IP (bad input: one line on stderr, exit 1);
 * 2. find the pod's default gateway (bridge CNIs probe from it);
 * 3. replace our nft table in one transaction.
 */
export async function runAgentInit(env: NodeJS.ProcessEnv, deps: AgentInitDeps = {}): Promise<number> {
  const log = createLogger('agent-init', { level: parseLevel(env.TELEPRESENCE_LOG_LEVEL), stream: process.stdout });
  try {
    const plan = initPlan(env, (deps.readRoutes ?? (() => readFileSync('/proc/net/route', 'utf8')))());
    const script = nftScript(plan);
    await (deps.nft ?? runNft)(script);
    log.info('redirects installed', {
      redirects: plan.redirects.map((r) => `${r.appPort}->${r.agentPort}`).join(','),
      exempt: plan.exempt.join(','),
      ...(plan.mesh ? { meshProxyUid: plan.mesh.proxyUid, meshRedirects: plan.mesh.redirects.map((r) => `${r.appPort}->${r.agentPort}`).join(',') } : {}),
    });
    return 0;
  } catch (err) {
    const e = err instanceof TelError ? err : new TelError('bug', err instanceof Error ? err.message : String(err));
    process.stderr.write(`tel-agent-init: ${e.message}${e.hint ? `; ${e.hint}` : ''}\n`);
    return 1;
  }
}
