// The README's main job on the embedded default (no external cluster or registry):
//  1. bring up the embedded test cluster (built from upstream, in its own network namespaces);
//  2. build every artifact with one version for the cluster's registry, push the image, verify;
//  3. deploy a demo service `orders` in namespace `shop`;
//  4. on the "workstation" (the cluster's ws namespace): telepresence connect, status, then
//     curl the service by ClusterIP and by name;
//  5. intercept orders to a server on the workstation, called from a pod; leave, uninstall, quit.
// `--release-only` stops after step 2 with a registry of its own (no cluster).
import { execFile, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { inspectImage } from '@tel/image';
import { startRegistry } from '@tel/image/testing';
import { readBuildInfo, workspaceRoot } from '@tel/genversion';
import { createProgress, demoWorkloadManifest, ensureClusterUp, formatElapsed, type ClusterInfo } from '@tel/testcluster';

const exec = promisify(execFile);
const root = workspaceRoot();
const argv = process.argv.slice(2);
const tty = process.stderr.isTTY && !process.env.CI;
const json = argv.includes('--output') && argv[argv.indexOf('--output') + 1] === 'json';
const releaseOnly = argv.includes('--release-only');
const STEPS = releaseOnly ? 3 : 6;
let stepNo = 0;
let stepStarted = 0;
/** Starts the next step, first closing the previous one with its time (every step says how long it took). */
const step = (text: string) => {
  endStep();
  stepStarted = Date.now();
  process.stderr.write(tty ? `\x1b[1m[${++stepNo}/${STEPS}]\x1b[0m ${text}\n` : `[${++stepNo}/${STEPS}] ${text}\n`);
  progress.log(text, { shown: true });
};
const endStep = () => {
  if (stepNo === 0) return;
  progress.stop();
  process.stderr.write(`    (step ${stepNo} took ${formatElapsed(Date.now() - stepStarted)})\n`);
};
/**
 * Shows that a step is alive (a live line with its time on a terminal, a "still …" line every 30 s
 * in logs), and the test cluster's phases and cold-build progress.
 */
const progress = createProgress({ write: (s) => process.stderr.write(s), live: tty, prefix: '    ' });

function nx(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(root, 'node_modules/.bin/nx'), [...args, '--outputStyle=static'], {
      cwd: root,
      env: { ...env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout?.on('data', (d) => (log += d));
    child.stderr?.on('data', (d) => (log += d));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nx ${args.join(' ')} failed (exit ${code})\n${log.slice(-4000)}`))));
  });
}

/** Build, push and verify every artifact for `registry`; the versions each artifact carries. */
async function release(registry: string): Promise<{ version: string; rows: { artifact: string; version: string }[] }> {
  const env = { ...process.env, TELEPRESENCE_REGISTRY: registry };
  step(`building every artifact for registry ${registry}, pushing the tel2 image, verifying versions`);
  await nx(['run-many', '-t', 'build'], env);
  await nx(['run', 'traffic-manager:push-base'], env);
  await nx(['run-many', '-t', 'push-image'], env);
  await nx(['run-many', '-t', 'verify-version'], env);
  const info = readBuildInfo(root);
  const rows: { artifact: string; version: string }[] = [];
  for (const app of ['cli', 'root-daemon', 'traffic-manager']) {
    const { stdout } = await exec(process.execPath, [join(root, 'dist', 'apps', app, 'main.js'), '--build-info']);
    rows.push({ artifact: `dist/apps/${app}/main.js`, version: JSON.parse(stdout).version });
  }
  const img = await inspectImage(info.image);
  rows.push({ artifact: `${info.image}`, version: img.manifest.annotations['org.opencontainers.image.version'] });
  return { version: info.version, rows };
}

const demoManifest = (image: string) => demoWorkloadManifest({ image, namespace: 'shop', name: 'orders' });

async function connectAndCurl(cluster: ClusterInfo): Promise<Record<string, unknown>> {
  const kubectl = async (args: string[], input?: string) => {
    const r = await cluster.wsExec('kubectl', args, { timeoutMs: 180_000, ...(input ? { input } : {}) });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  step('deploying the demo service orders.shop');
  await kubectl(['apply', '-f', '-'], demoManifest(cluster.demoServerImage));
  // Another workload of the shop, to call orders from inside the cluster during the intercept.
  await kubectl(['apply', '-f', '-'], demoWorkloadManifest({ image: cluster.demoServerImage, namespace: 'shop', name: 'cart' }));
  await kubectl(['rollout', 'status', 'deployment/orders', '-n', 'shop', '--timeout=120s']);
  await kubectl(['rollout', 'status', 'deployment/cart', '-n', 'shop', '--timeout=120s']);
  const serviceIp = await kubectl(['get', 'service', 'orders', '-n', 'shop', '-o', 'jsonpath={.spec.clusterIP}']);

  // The workstation user: its own runtime/cache/config dirs inside the cluster's state dir.
  const home = join(cluster.stateDir, 'quickstart-user');
  const env: NodeJS.ProcessEnv = {
    HOME: home,
    XDG_RUNTIME_DIR: join(home, 'run'),
    XDG_CACHE_HOME: join(home, 'cache'),
    XDG_CONFIG_HOME: join(home, 'config'),
    TELEPRESENCE_ROOT_RUN_DIR: join(home, 'rootrun'),
    KUBECONFIG: cluster.adminKubeconfig,
  };
  for (const d of [env.XDG_RUNTIME_DIR!, env.XDG_CACHE_HOME!, env.XDG_CONFIG_HOME!, env.TELEPRESENCE_ROOT_RUN_DIR!]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const cli = join(root, 'dist', 'apps', 'cli', 'main.js');
  const tp = (...args: string[]) => cluster.wsExec('node', [cli, ...args], { env, timeoutMs: 300_000 });

  step('telepresence helm upgrade, then telepresence connect (from the workstation namespace)');
  // The admin makes the cluster's manager this build's version (installs it when absent), as a
  // platform team does after a release; connect alone never replaces a manager of another version.
  const upgrade = await tp('helm', 'upgrade');
  if (upgrade.code !== 0) throw new Error(`telepresence helm upgrade failed: ${(upgrade.stderr || upgrade.stdout).trim()}`);
  const t0 = performance.now();
  const connect = await tp('connect');
  if (connect.code !== 0) throw new Error(`telepresence connect failed: ${(connect.stderr || connect.stdout).trim()}`);
  const connectSeconds = (performance.now() - t0) / 1000;
  try {
    step(`curl http://${serviceIp}:8080/ and http://orders.shop:8080/ through the tunnel`);
    const status = await tp('status');
    const byIp = await cluster.wsExec('curl', ['-sS', '--max-time', '10', `http://${serviceIp}:8080/`], { timeoutMs: 20_000 });
    const byName = await cluster.wsExec('curl', ['-sS', '--max-time', '10', 'http://orders.shop:8080/'], { timeoutMs: 20_000 });
    const intercept = await interceptOrders(cluster, tp, kubectl);
    return {
      intercept,
      connectSeconds,
      status: status.stdout.trim(),
      byIp: { ok: byIp.code === 0, body: (byIp.code === 0 ? byIp.stdout : byIp.stderr).trim() },
      byName: { ok: byName.code === 0, body: (byName.code === 0 ? byName.stdout : byName.stderr).trim() },
      serviceIp,
    };
  } finally {
    await tp('quit', '-s');
  }
}

/**
 * The product: a server on the workstation gets the cluster's traffic for orders.shop. A pod in the
 * cluster calls the Service before, during and after the intercept; uninstall puts orders back.
 */
async function interceptOrders(cluster: ClusterInfo, tp: (...args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>, kubectl: (args: string[]) => Promise<string>) {
  step('telepresence intercept orders -n shop --port 3000: a pod calling orders.shop reaches a server on the workstation');
  const server = await cluster.wsExec('sh', ['-c', `node -e "require('node:http').createServer((q, s) => s.end('hello from the workstation\\n')).listen(3000, '127.0.0.1')" >/dev/null 2>&1 & echo $!`], { timeoutMs: 10_000 });
  const fromPod = () => kubectl(['exec', '-n', 'shop', 'deploy/cart', '--', '/demo-server', 'get', 'http://orders.shop:8080/']).catch((e: Error) => e.message);
  try {
    const t0 = performance.now();
    const r = await tp('intercept', 'orders', '-n', 'shop', '--port', '3000');
    if (r.code !== 0) throw new Error(`telepresence intercept failed: ${(r.stderr || r.stdout).trim()}`);
    const seconds = (performance.now() - t0) / 1000;
    const during = await fromPod();
    await tp('leave', 'orders');
    const after = await fromPod();
    await tp('uninstall', 'orders', '-n', 'shop');
    return { seconds, output: r.stdout.trim(), during: during.trim(), after: after.trim(), ok: during.startsWith('hello from the workstation') };
  } finally {
    await cluster.wsExec('kill', [server.stdout.trim()], { timeoutMs: 5_000 }).catch(() => undefined);
  }
}

async function main(): Promise<number> {
  if (releaseOnly) {
    step('starting a local OCI registry (Debian docker-registry) on 127.0.0.1');
    const registry = await startRegistry();
    try {
      const r = await release(registry.host);
      step('done');
      return report(r, undefined);
    } finally {
      await registry.stop();
    }
  }
  step('bringing up the embedded test cluster (first run builds Kubernetes from upstream; later runs reuse it)');
  const cluster = await ensureClusterUp({ log: progress.log });
  const r = await release(cluster.registry);
  const result = await connectAndCurl(cluster);
  return report(r, result);
}

function report(r: { version: string; rows: { artifact: string; version: string }[] }, c: Record<string, any> | undefined): number {
  endStep();
  const same = r.rows.every((x) => x.version === r.version);
  const ok = same && (!c || (c.byIp.ok && c.intercept.ok));
  if (json) {
    process.stdout.write(JSON.stringify({ version: r.version, artifacts: r.rows, consistent: same, connect: c }) + '\n');
    return ok ? 0 : 1;
  }
  const w = Math.max(...r.rows.map((x) => x.artifact.length));
  process.stdout.write(`Version ${r.version}\n`);
  for (const x of r.rows) process.stdout.write(`  ${x.artifact.padEnd(w)}  ${x.version}\n`);
  process.stdout.write(same ? 'All artifacts carry the same version.\n' : 'VERSION MISMATCH between artifacts.\n');
  if (c) {
    process.stdout.write(`\nConnected in ${c.connectSeconds.toFixed(1)} s.\n${c.status}\n\n`);
    process.stdout.write(`$ curl http://${c.serviceIp}:8080/\n${c.byIp.body}\n`);
    process.stdout.write(`$ curl http://orders.shop:8080/\n${c.byName.body}\n`);
    process.stdout.write(`\n$ telepresence intercept orders -n shop --port 3000   (${c.intercept.seconds.toFixed(1)} s)\n${c.intercept.output}\n`);
    process.stdout.write(`the cart pod calling orders.shop while intercepted: ${c.intercept.during}\nafter 'telepresence leave orders':                    ${c.intercept.after}\n`);
    process.stdout.write(`\nThe cluster stays up: 'npx nx run testcluster:status', 'node --import tsx tools/testcluster/src/cli.ts exec -- bash', 'npx nx run testcluster:down'.\n`);
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (err: Error & { hint?: string }) => {
    progress.stop();
    process.stderr.write(`quickstart: ${err.message}${err.hint ? `; ${err.hint}` : ''}\n`);
    process.exitCode = 1;
  },
);
