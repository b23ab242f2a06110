// The release as a user gets it: in the test cluster's workstation namespace, inside a private
// mount namespace where no Node.js runs and no checkout is visible, install.sh installs the
// archive, and the installed `telepresence` (a single executable, both daemons inside) shows its
// version, connects, and routes a Service of the cluster.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleApp } from '@tel/build';
import { copyRelease, packageRelease, type ReleaseManifest } from '@tel/release';
import { demoWorkloadManifest, ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { kubectlAsAdmin, pushManager, removeManager, userEnv, WORKSPACE_ROOT, type Build } from './harness.js';

const RUN = Date.now().toString(36);
const VERSION = `v2.95.0-pkg.${RUN}`;
const DEMO_NS = 'tel-packaged-e2e-demo';

let cluster: ClusterInfo;
let dir: string;
let release: ReleaseManifest;
let prefix: string;
let out: string;
let run: { code: number; stdout: string; stderr: string };
const read = (name: string) => readFileSync(join(out, name), 'utf8');

/**
 * Runs as root in the workstation namespace, in a mount namespace of its own (private
 * propagation: nothing here reaches the host's mounts):
 *  1. hide every node binary (/dev/null bound over it) and the checkout (an empty tmpfs);
 *  2. install the release with its install.sh into PREFIX;
 *  3. with only PREFIX/bin and the system dirs on PATH: version, connect, status, the daemons'
 *     executables, command lines and V8 flags, HTTP to a Service by its cluster DNS name, quit.
 * Each step's output goes to a file in OUT for the test to read.
 */
const script = String.raw`
set -u
cd /
for f in /usr/bin/node /usr/local/bin/node /usr/sbin/node; do [ -e "$f" ] && mount --bind /dev/null "$f"; done
mount -t tmpfs tmpfs "$CHECKOUT"
if node --version >/dev/null 2>&1; then echo "node still runs: $(command -v node)" >&2; exit 90; fi
[ -e "$CHECKOUT/package.json" ] && { echo "the checkout is still visible" >&2; exit 91; }
sh "$REL/install.sh" --prefix "$PREFIX" >"$OUT/install.out" 2>&1; echo $? >"$OUT/install.rc"
export PATH="$PREFIX/bin:/usr/sbin:/usr/bin:/sbin:/bin"
command -v telepresence >"$OUT/which.out"
telepresence connect --output json >"$OUT/connect.json" 2>"$OUT/connect.err"; echo $? >"$OUT/connect.rc"
telepresence version >"$OUT/version.out" 2>&1; echo $? >"$OUT/version.rc"
telepresence status --output json >"$OUT/status.json" 2>"$OUT/status.err"
for pid in $(grep -o '"pid": *[0-9]*' "$OUT/status.json" | grep -o '[0-9]*$'); do
  echo "$(readlink "/proc/$pid/exe") $(tr '\0' ' ' <"/proc/$pid/cmdline")| $(tr '\0' '\n' <"/proc/$pid/environ" | grep -E '^(NODE_OPTIONS|TELEPRESENCE_V8_FLAGS)=' | tr '\n' ' ')"
done >"$OUT/daemons.out"
curl -sS --max-time 15 "http://demo.$DEMO_NS:8080/" >"$OUT/curl.out" 2>&1; echo $? >"$OUT/curl.rc"
telepresence quit -s >"$OUT/quit.out" 2>&1; echo $? >"$OUT/quit.rc"
exit 0
`;

beforeAll(async () => {
  cluster = await ensureClusterUp();
  dir = mkdtempSync(join(tmpdir(), 'tel-packaged-e2e-'));
  // 1. This version's bundles, its manager image, and its release dir.
  const info = { version: VERSION, source: 'env' as const, dirty: false, registry: cluster.registry, image: `${cluster.registry}/tel2:${VERSION}` };
  const dist = join(dir, 'dist');
  for (const app of ['cli', 'root-daemon', 'traffic-manager'] as const) await bundleApp(WORKSPACE_ROOT, app, info, join(dist, VERSION));
  const build: Build = { version: VERSION, cli: join(dist, VERSION, 'cli', 'main.js'), info };
  await pushManager(build, dist);
  release = await packageRelease({ workspaceRoot: WORKSPACE_ROOT, distApps: join(dist, VERSION), version: VERSION, image: info.image, registry: cluster.registry, outDir: join(dir, 'release') });
  // 2. What the user downloads, away from the checkout; nothing else of the build goes along.
  const rel = join(dir, 'download');
  copyRelease(join(dir, 'release'), rel, release);
  rmSync(dist, { recursive: true, force: true });
  prefix = join(dir, 'prefix');
  out = join(dir, 'out');
  mkdirSync(out);
  // 3. A demo Service to reach, and no manager of another version in the way.
  await removeManager(cluster);
  await kubectlAsAdmin(cluster, ['apply', '-f', '-'], demoWorkloadManifest({ image: cluster.demoServerImage, namespace: DEMO_NS }));
  await kubectlAsAdmin(cluster, ['rollout', 'status', 'deployment/demo', '-n', DEMO_NS, '--timeout=150s']);
  const kubeconfig = join(dir, 'admin.kubeconfig');
  copyFileSync(cluster.adminKubeconfig, kubeconfig);
  const env = { ...userEnv(join(dir, 'user'), cluster.registry), KUBECONFIG: kubeconfig, REL: rel, PREFIX: prefix, OUT: out, CHECKOUT: WORKSPACE_ROOT, DEMO_NS };
  run = await cluster.wsExec('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { env, timeoutMs: 600_000 });
}, 900_000);

afterAll(async () => {
  if (prefix && cluster) await cluster.wsExec(join(prefix, 'bin', 'telepresence'), ['quit', '-s'], { env: userEnv(join(dir, 'user'), cluster.registry), timeoutMs: 60_000 }).catch(() => undefined);
  if (cluster) await kubectlAsAdmin(cluster, ['delete', 'namespace', DEMO_NS, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
  // The executable unpacked its bundles for root here (tools/release/src/sea/bootstrap.cjs).
  if (release) rmSync(join('/var/cache/telepresence/exe', release.unpackId), { recursive: true, force: true });
}, 120_000);

describe('the packaged telepresence, installed where there is no Node.js and no checkout', () => {
  it('ran with node hidden and the checkout hidden', () => {
    expect(run.code, run.stderr).toBe(0);
  });

  it('install.sh verified the archive and put telepresence on PATH', () => {
    expect(read('install.rc').trim(), read('install.out')).toBe('0');
    expect(read('which.out').trim()).toBe(join(prefix, 'bin', 'telepresence'));
  });

  it('telepresence version runs and names this build and, connected, the Traffic Manager', () => {
    expect(read('version.rc').trim(), read('version.out')).toBe('0');
    expect(read('version.out')).toMatch(new RegExp(`Client\\s*: ${VERSION.replace(/\./g, '\\.')}\\b`));
    // Connected: the manager the executable installed, of the same version.
    expect(read('version.out')).toMatch(new RegExp(`Traffic Manager\\s*: ${VERSION.replace(/\./g, '\\.')}\\b`));
  });

  it('telepresence connect starts both daemons from the executable itself and installs the manager', () => {
    expect(read('connect.rc').trim(), read('connect.err')).toBe('0');
    expect(JSON.parse(read('connect.json'))).toMatchObject({ connected: true, trafficManager: { version: VERSION } });
    const status = JSON.parse(read('status.json'));
    expect(status.user_daemon.version).toBe(VERSION);
    expect(status.root_daemon.version).toBe(VERSION);
    // Each daemon: its executable, its command line | the V8 flags it was started with.
    const daemons = read('daemons.out').trim().split('\n');
    expect(daemons).toHaveLength(2);
    const exe = join(prefix, 'bin', 'telepresence');
    const rootDaemon = daemons.find((d) => d.includes(' daemon-foreground '));
    const userDaemon = daemons.find((d) => d.includes(' connector-foreground '));
    expect(rootDaemon?.startsWith(`${exe} ${exe} daemon-foreground `), daemons.join('\n')).toBe(true);
    expect(userDaemon?.startsWith(`${exe} ${exe} connector-foreground `), daemons.join('\n')).toBe(true);
    // A single executable takes no node options on its command line: they travel in the environment.
    expect(userDaemon).toMatch(/\| .*NODE_OPTIONS=\S*--max-semi-space-size=2/);
    expect(userDaemon).toContain('TELEPRESENCE_V8_FLAGS=--heap-growing-percent=100');
  });

  it('routes the cluster: a Service answers by its cluster DNS name, then quit stops the daemons', () => {
    expect(read('curl.rc').trim(), read('curl.out')).toBe('0');
    expect(read('curl.out')).toContain(DEMO_NS);
    expect(read('quit.rc').trim(), read('quit.out')).toBe('0');
  });
});
