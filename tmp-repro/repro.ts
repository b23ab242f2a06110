import { mkdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ensureClusterUp } from '@tel/testcluster';
import { buildVersion, cliRunner, kubectlAsAdmin, pushManager, removeManager, userEnv } from '../apps/cli/src/userd/e2e/harness.js';
import { appManifests, fromClient, startWorkstationServer, WS_PORT } from '../apps/cli/src/userd/e2e/intercept-world.js';

const NS = 'tel-repro';
const V = `v2.93.0-repro.${Date.now().toString(36)}`;
const cluster = await ensureClusterUp();
const dir = mkdtempSync('/tmp/tel-repro-');
const build = await buildVersion(join(dir, 'dist'), V, cluster.registry);
await pushManager(build, join(dir, 'dist'));
await removeManager(cluster);
const k = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);
await k(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true']);
await k(['apply', '-f', '-'], appManifests(NS, cluster.demoServerImage, build.info.image));
for (const w of ['deployment/web', 'deployment/client']) await k(['rollout', 'status', w, '-n', NS, '--timeout=150s']);
const env = userEnv(join(dir, 'user'), cluster.registry);
mkdirSync(join(env.XDG_CONFIG_HOME!, 'telepresence'), { recursive: true });
writeFileSync(join(env.XDG_CONFIG_HOME!, 'telepresence', 'config.yml'), 'logLevels:\n  userDaemon: debug\n');
const tp = cliRunner(cluster, build, env, cluster.adminKubeconfig);
await startWorkstationServer(cluster, join(dir, 'ws.log'));
console.log((await tp('connect')).stdout);
await k(['set', 'env', 'deployment/traffic-manager', '-n', 'ambassador', 'TELEPRESENCE_LOG_LEVEL=debug']);
await k(['rollout', 'status', 'deployment/traffic-manager', '-n', 'ambassador', '--timeout=100s']);
await new Promise((r) => setTimeout(r, 3000));
for (let round = 0; round < 3; round++) {
  const r = await tp('intercept', 'web', '-n', NS, '--port', `${WS_PORT}:http`);
  console.log(new Date().toISOString(), 'intercept', r.code, r.stderr, r.ms);
  for (let i = 0; i < 2; i++) {
    const t0 = new Date().toISOString();
    const bodies = await fromClient(cluster, NS, Array.from({ length: 10 }, () => `http://web.${NS}:8080/`));
    console.log(t0, JSON.stringify(bodies.map((b) => b.slice(0, 14))));
  }
  await tp('leave', 'web');
}
console.log('DIR', dir);
