// e2e harness for `telepresence connect`: builds CLI + root daemon + traffic-manager bundles of a
// given version, pushes the manager image to the test cluster's registry, and runs the built CLI
// inside the test cluster's workstation namespace (the only place the daemons under test run).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dump, load } from 'js-yaml';
import { userDirs } from '../../testing/user-dirs.js';
import { bundleApp, pushBaseImage, pushTrafficManagerImage } from '@tel/build';
import type { BuildInfo } from '@tel/genversion';
import type { ClusterInfo, NsExecOptions, NsExecResult } from '@tel/testcluster';

export const WORKSPACE_ROOT = resolve(import.meta.dirname, '../../../../..');

export interface Build {
  version: string;
  cli: string;
  info: BuildInfo;
}

/** Bundle cli, root-daemon and traffic-manager of `version` into `<dir>/<version>/`. */
export async function buildVersion(dir: string, version: string, registry: string): Promise<Build> {
  const info: BuildInfo = { version, source: 'env', dirty: false, registry, image: `${registry}/tel2:${version}` };
  const out = join(dir, version);
  for (const app of ['cli', 'root-daemon', 'traffic-manager'] as const) await bundleApp(WORKSPACE_ROOT, app, info, out);
  return { version, cli: join(out, 'cli', 'main.js'), info };
}

export async function pushManager(build: Build, distDir: string): Promise<void> {
  await pushBaseImage(build.info);
  await pushTrafficManagerImage(build.info, join(distDir, build.version));
}

/** A workstation user: own home, runtime, cache and config dirs; the root daemon's run dir. */
export function userEnv(dir: string, registry: string): NodeJS.ProcessEnv {
  return { ...userDirs(dir), TELEPRESENCE_REGISTRY: registry };
}

/** Copy a kubeconfig, adding a telepresence.io extension to every cluster. */
export function kubeconfigWithExtension(src: string, dest: string, extension: Record<string, unknown>): string {
  const doc = load(readFileSync(src, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[] };
  for (const c of doc.clusters) c.cluster.extensions = [{ name: 'telepresence.io', extension }];
  writeFileSync(dest, dump(doc), { mode: 0o600 });
  return dest;
}

export interface Tp {
  (...args: string[]): Promise<NsExecResult & { json?: any; ms: number }>;
}

/** Runs the built CLI inside the workstation namespace with the given user env and kubeconfig. */
export function cliRunner(cluster: ClusterInfo, build: Build, env: NodeJS.ProcessEnv, kubeconfig: string, world: Pick<NsExecOptions, 'resolver' | 'resolvConf'> = {}): Tp {
  return async (...args: string[]) => {
    const t0 = performance.now();
    // `node --`: see the bundle's shebang (Node 20 reads --env-file even after the script).
    const r = await cluster.wsExec('node', ['--', build.cli, ...args], { env: { ...env, KUBECONFIG: kubeconfig }, timeoutMs: 300_000, ...world });
    const ms = Math.round(performance.now() - t0);
    let json: unknown;
    if (args.includes('json')) {
      try {
        json = JSON.parse(r.stdout);
      } catch {
        json = undefined;
      }
    }
    return { ...r, json, ms };
  };
}

export async function ws(cluster: ClusterInfo, script: string, timeoutMs = 60_000): Promise<NsExecResult> {
  return cluster.wsExec('sh', ['-c', script], { timeoutMs });
}

/**
 * The workstation's routing and filtering state, normalized (counters and generated comments
 * dropped) so dumps taken before and after can be compared exactly.
 */
export async function netState(cluster: ClusterInfo): Promise<string> {
  const parts: string[] = [];
  for (const [name, cmd] of [
    ['ip route show table all', 'ip route show table all'],
    ['ip -6 route show table all', 'ip -6 route show table all'],
    ['ip rule', 'ip rule'],
    ['ip -6 rule', 'ip -6 rule'],
    ['ip link', "ip -o link | sed -E 's/^[0-9]+: //; s/ link\\/.*$//'"],
    ['iptables-save', 'iptables-save 2>/dev/null'],
    ['ip6tables-save', 'ip6tables-save 2>/dev/null'],
    ['nft list ruleset', 'nft list ruleset 2>/dev/null'],
  ] as const) {
    const r = await ws(cluster, cmd);
    const text = r.stdout
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) =>
        l
          .replace(/\[\d+:\d+\]/g, '[0:0]')
          .replace(/counter packets \d+ bytes \d+/g, 'counter')
          // The root daemon's proxies listen on ephemeral ports: a restart may pick others.
          .replace(/(redirect to |tproxy to [\d.]+|--to-ports |--on-port )(:?)\d+/g, '$1$2PORT'),
      )
      .join('\n');
    parts.push(`== ${name}\n${text}`);
  }
  return parts.join('\n');
}

/** HTTP GET from the workstation; the body, or the curl error. */
export async function httpGet(cluster: ClusterInfo, url: string, maxSeconds = 10, world: Pick<NsExecOptions, 'resolver' | 'resolvConf'> = {}): Promise<{ ok: boolean; body: string }> {
  const r = await cluster.wsExec('curl', ['-sS', '--max-time', String(maxSeconds), url], { timeoutMs: (maxSeconds + 5) * 1000, ...world });
  return { ok: r.code === 0, body: r.code === 0 ? r.stdout : r.stderr };
}

/** One UDP datagram from the workstation and its echo (node's dgram; no extra tools needed). */
export async function udpEcho(cluster: ClusterInfo, host: string, port: number, message: string): Promise<{ ok: boolean; reply: string }> {
  const script = `
const s = require('node:dgram').createSocket('udp4');
const t = setTimeout(() => { console.error('no reply'); process.exit(1); }, 5000);
s.on('message', (m) => { clearTimeout(t); process.stdout.write(m.toString()); s.close(); });
s.send(${JSON.stringify(message)}, ${port}, ${JSON.stringify(host)});`;
  const r = await cluster.wsExec('node', ['-e', script], { timeoutMs: 15_000 });
  return { ok: r.code === 0, reply: r.code === 0 ? r.stdout : r.stderr };
}

/** kubectl as the cluster admin on the workstation: stdout, or an error with kubectl's stderr. */
export async function kubectlAsAdmin(cluster: ClusterInfo, args: string[], input?: string): Promise<string> {
  const r = await cluster.wsExec('kubectl', args, { env: { KUBECONFIG: cluster.adminKubeconfig }, timeoutMs: 180_000, ...(input ? { input } : {}) });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Selects every object `telepresence helm install` creates. */
export const MANAGER_SELECTOR = 'app.kubernetes.io/name=traffic-manager';

/** Remove a manager an earlier run left (maybe of another version), so the next connect installs ours. */
export async function removeManager(cluster: ClusterInfo): Promise<void> {
  await cluster.wsExec('kubectl', ['delete', 'deployment,service,serviceaccount,role,rolebinding,secret,configmap', '-n', cluster.managerNamespace, '-l', MANAGER_SELECTOR, '--ignore-not-found', '--wait=true'], { timeoutMs: 120_000 });
  await cluster.wsExec('kubectl', ['delete', 'clusterrole,clusterrolebinding,mutatingwebhookconfiguration', '-l', MANAGER_SELECTOR, '--ignore-not-found'], { timeoutMs: 60_000 });
}
