import { ensureClusterUp } from '@tel/testcluster';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { userEnv } from '../apps/cli/src/userd/e2e/harness.js';
const cluster = await ensureClusterUp();
for (const d of readdirSync('/tmp').filter((x) => x.startsWith('tel-repro-'))) {
  const dir = join('/tmp', d);
  const v = readdirSync(join(dir, 'dist'))[0]!;
  const env = userEnv(join(dir, 'user'), cluster.registry);
  const r = await cluster.wsExec('node', ['--', join(dir, 'dist', v, 'cli', 'main.js'), 'quit', '-s'], { env, timeoutMs: 30000 });
  console.log(d, r.code, r.stdout.trim());
}
await cluster.wsExec('kubectl', ['delete', 'namespace', 'tel-repro', '--wait=false', '--ignore-not-found'], { timeoutMs: 30000 });
