// `up` and `down`: the orchestration of the test cluster. `up` is idempotent (a healthy cluster
// is left alone, a partial one is torn down first); `down` removes everything `up` created, also
// after a crash: processes (by pid file and by cgroup), namespaces, mounts, cgroups, sysctls.
import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { applyArgoRolloutsCrds, argoRolloutsController, ARGO_ROLLOUTS_PROBE } from './argo-rollouts.js';
import { type Binaries, ensureBinaries } from './build.js';
import { createClusterCgroup, destroyClusterCgroup, otherClusterRunning } from './cgroups.js';
import { type Component, apiServer, earlyComponents, holders, nodeAgents, wsResolved } from './components.js';
import {
  cniConfig, containerdConfig, inetZone, kubeProxyConfig, kubeletConfig, nodePaths, nodeResolvConf,
  registryConfig, registryHostsToml, wsResolvedConf,
} from './configs.js';
import { pushImages, pushMissingImages } from './images.js';
import { kubectl, kubectlPath, toolsBinDir } from './kubectl.js';
import { type Layout, cacheRoot, netnsPath } from './layout.js';
import { asList, coreDnsObjects, developerObjects } from './manifests.js';
import { createNetns, deleteNetns } from './netns.js';
import { createPki, writeKubeconfigs } from './pki.js';
import { checkPrereqs, formatMissing } from './prereqs.js';
import type { Log } from './progress.js';
import { isAlive, livePid, readPid, run, sleep, startDaemon, stopRecorded, waitFor } from './proc.js';
import { clusterStatus, nodeConditions, probeInNode } from './status.js';
import { restoreSysctls, recordSysctls } from './sysctl.js';
import { RESOLVER_FLAVOURS, flavourPrefix, workstationEtcFiles } from './workstation-etc.js';

export type { Log } from './progress.js';

export class PrereqError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'PrereqError';
  }
}

export interface UpResult {
  alreadyUp: boolean;
  seconds: number;
  /** Seconds from start to each milestone. */
  milestones: Record<string, number>;
}

/** Serialises `up`/`down` of one instance between processes (parallel test workers call ensureClusterUp). */
export async function withLock<T>(l: Layout, fn: () => Promise<T>): Promise<T> {
  const file = `${l.stateDir}.lock`;
  mkdirSync(dirname(file), { recursive: true });
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      const holder = Number(readFileSync(file, 'utf8') || 0);
      if (!holder || holder === process.pid || !isAlive({ pid: holder, startTime: '', cmd: '' })) {
        rmSync(file, { force: true });
        continue;
      }
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

/** A lock left by a process that died (a crashed `up`): nobody holds it any more. */
function removeStaleLock(l: Layout): void {
  const file = `${l.stateDir}.lock`;
  try {
    const holder = Number(readFileSync(file, 'utf8') || 0);
    if (holder !== process.pid && !isAlive({ pid: holder, startTime: '', cmd: '' })) rmSync(file, { force: true });
  } catch {
    /* no lock */
  }
}

function launch(l: Layout, cgroupProcs: string[], c: Component): number {
  let cmd: string;
  let args: string[];
  switch (c.where.kind) {
    case 'host':
      [cmd, args] = [c.cmd, c.args];
      break;
    case 'netns':
      // nsenter, not `ip netns exec`: that remounts /sys and would hide /sys/fs/cgroup.
      [cmd, args] = ['nsenter', [`--net=${netnsPath(c.where.ns)}`, '--', c.cmd, ...c.args]];
      break;
    case 'holder': {
      const holder = livePid(l.pidDir, c.where.holder);
      if (!holder) throw new Error(`${c.where.holder} is not running; see ${l.logsDir}/${c.where.holder}.log`);
      [cmd, args] = ['nsenter', ['-t', String(holder), '-m', '-n', '--', c.cmd, ...c.args]];
      break;
    }
  }
  return startDaemon(l.logsDir, l.pidDir, { name: c.name, cmd, args, cgroupProcs, env: { ...process.env, ...c.env } });
}

/** Fails fast (with the log's tail) when a daemon we wait on has died. */
function assertRunning(l: Layout, name: string): void {
  if (isAlive(readPid(l.pidDir, name))) return;
  let tail = '';
  try {
    tail = readFileSync(join(l.logsDir, `${name}.log`), 'utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    /* no log */
  }
  throw new Error(`${name} exited during startup; last lines of ${l.logsDir}/${name}.log:\n${tail}`);
}

async function waitHealthy(l: Layout, names: string[], urls: Record<string, string>, timeoutMs: number): Promise<void> {
  await waitFor(`${names.join(', ')} to answer`, timeoutMs, async () => {
    for (const n of names) assertRunning(l, n);
    const codes = await probeInNode(l, urls);
    return Object.keys(urls).every((n) => (codes[n] ?? 0) >= 200 && (codes[n] ?? 0) < 300) ? true : undefined;
  });
}

function writeConfigs(l: Layout): void {
  const p = nodePaths(l);
  const files: Record<string, string> = {
    [p.containerdConfig]: containerdConfig(l, p),
    [join(p.certsDir, l.registry, 'hosts.toml')]: registryHostsToml(l),
    [join(p.cniConfDir, '10-tptc.conflist')]: cniConfig(p),
    [p.kubeletConfig]: kubeletConfig(l, p),
    [p.kubeProxyConfig]: kubeProxyConfig(l),
    [p.registryConfig]: registryConfig(l),
    [p.nodeResolvConf]: nodeResolvConf(),
    ...workstationEtcFiles(p.wsDir),
    [join(p.wsDir, 'resolved.conf')]: wsResolvedConf(),
    [p.inetZone]: inetZone(),
  };
  for (const [f, content] of Object.entries(files)) {
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, content);
  }
  for (const d of [p.kubeletDir, p.podLogsDir, p.cniDataDir, l.registryDir, join(l.stateDir, 'apiserver'), toolsBinDir(l)]) mkdirSync(d, { recursive: true });
  rmSync(join(toolsBinDir(l), 'kubectl'), { force: true });
  symlinkSync(kubectlPath(l), join(toolsBinDir(l), 'kubectl'));
}

/** Brings the cluster up (or leaves a healthy one alone) and waits until it is all Ready. */
export async function up(l: Layout, log: Log): Promise<UpResult> {
  const t0 = Date.now();
  const milestones: Record<string, number> = {};
  const mark = (m: string) => {
    milestones[m] = Math.round((Date.now() - t0) / 100) / 10;
    log(`${m} (${milestones[m]}s)`);
  };
  // 1. Already up and healthy: nothing to do. Anything left from a crashed run: remove it first.
  let before = await clusterStatus(l);
  if (before.state === 'partial' && before.components.every((c) => c.running)) {
    // Every daemon runs but something is not (yet) healthy: another process may be starting it,
    // or a probe hit a transient failure. Tearing down a cluster other tests use is the last resort.
    log('every component runs but not all are healthy yet; waiting up to 30s before restarting the cluster');
    before = await waitFor('a healthy cluster', 30_000, async () => {
      const s = await clusterStatus(l);
      return s.state === 'up' ? s : undefined;
    }, 1000).catch(() => before);
  }
  if (before.state === 'up') {
    // Images our sources changed since the cluster came up (their tags follow the sources).
    const pushed = await pushMissingImages(l, await ensureBinaries(l, log));
    if (pushed.length) log(`pushed ${pushed.join(', ')}`);
    return { alreadyUp: true, seconds: (Date.now() - t0) / 1000, milestones };
  }
  if (before.state === 'partial') {
    log('found a partial cluster; removing it first');
    await down(l, log);
  }
  // 2. Preflight and binaries (built once per version, then cached).
  const missing = await checkPrereqs(l, { checkPorts: true });
  if (missing.length > 0) throw new PrereqError(missing.map(formatMissing));
  const bins = await ensureBinaries(l, log);
  mark('binaries ready');
  try {
    await start(l, bins, mark, log);
  } catch (err) {
    log(`up failed; the logs are in ${l.logsDir}. Run 'down' to clean up.`);
    throw err;
  }
  const seconds = (Date.now() - t0) / 1000;
  writeFileSync(join(l.stateDir, 'up.json'), JSON.stringify({ seconds, milestones, at: new Date().toISOString() }, null, 2) + '\n');
  return { alreadyUp: false, seconds, milestones };
}

async function start(l: Layout, bins: Binaries, mark: (m: string) => void, log: Log): Promise<void> {
  const p = nodePaths(l);
  // 3. State dir, the original kernel sysctls, configs, certificates; namespaces and cgroup.
  mkdirSync(l.stateDir, { recursive: true });
  recordSysctls(cacheRoot());
  writeConfigs(l);
  const cgroupProcs = createClusterCgroup(l.cgroup);
  await Promise.all([createPki(l).then(() => writeKubeconfigs(l)), createNetns(l)]);
  mark('namespaces, cgroup and certificates ready');
  // 4. Holders of the node's and the workstation's mount namespaces; they exec the helper once mounted.
  for (const h of holders(l, bins, p)) launch(l, cgroupProcs, h);
  await waitFor('the namespace holders', 10_000, async () => {
    for (const n of ['node-holder', 'ws-holder']) assertRunning(l, n);
    return ['node-holder', 'ws-holder'].every((n) => {
      const pid = livePid(l.pidDir, n);
      try {
        return pid !== undefined && readlinkSync(`/proc/${pid}/exe`) === bins.own.helper;
      } catch {
        return false;
      }
    })
      ? true
      : undefined;
  }, 20);
  // 5. etcd, registry, containerd, the registry forwarder, the inet servers and the workstation's bus.
  for (const c of earlyComponents(l, bins)) launch(l, cgroupProcs, c);
  const wsHolder = livePid(l.pidDir, 'ws-holder')!;
  await waitFor('the workstation system bus', 20_000, async () => {
    assertRunning(l, 'ws-dbus');
    return existsSync(`/proc/${wsHolder}/root/run/dbus/system_bus_socket`) ? true : undefined;
  }, 20);
  launch(l, cgroupProcs, wsResolved());
  await waitHealthy(l, ['etcd'], { etcd: 'http://127.0.0.1:2379/health' }, 30_000);
  mark('etcd ready');
  // 6. The API server; images are built and pushed while it starts.
  launch(l, cgroupProcs, apiServer(l, bins));
  const images = (async () => {
    await waitFor('the registry (through the host forwarder)', 20_000, async () => {
      assertRunning(l, 'registry');
      assertRunning(l, 'registry-forwarder');
      const res = await fetch(`http://${l.registry}/v2/`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    });
    await pushImages(l, bins);
    mark('images pushed');
  })();
  images.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled".
  await waitHealthy(l, ['kube-apiserver'], { 'kube-apiserver': `https://127.0.0.1:6443/readyz` }, 120_000);
  mark('kube-apiserver ready');
  // 7. Controllers, scheduler, kubelet, kube-proxy; cluster objects applied meanwhile.
  await waitFor('containerd', 20_000, async () => {
    assertRunning(l, 'containerd');
    return existsSync(p.containerdSock) ? true : undefined;
  });
  for (const c of nodeAgents(l, bins)) launch(l, cgroupProcs, c);
  await kubectl(l, ['apply', '-f', '-'], { input: asList([...developerObjects(), ...coreDnsObjects(l)]) });
  mark('cluster objects applied');
  // 7b. Argo Rollouts: its CRDs, then its controller (its informers need the CRDs served).
  await applyArgoRolloutsCrds(l, bins.argoRollouts);
  launch(l, cgroupProcs, argoRolloutsController(l, bins.argoRollouts));
  mark('argo rollouts CRDs applied, controller started');
  await images;
  // 8. All Ready: node, CoreDNS, the workstation's resolver.
  await waitFor('node Ready and CoreDNS available', 150_000, async () => {
    for (const n of ['kubelet', 'kube-proxy', 'kube-controller-manager', 'kube-scheduler', 'containerd']) assertRunning(l, n);
    const c = await nodeConditions(l);
    return c.nodeReady && c.corednsReady ? true : undefined;
  }, 250);
  mark('node Ready, CoreDNS available');
  await waitHealthy(l, ['argo-rollouts'], { 'argo-rollouts': ARGO_ROLLOUTS_PROBE }, 60_000);
  mark('argo rollouts controller ready');
  // Through glibc in both workstation styles: resolved's stub file exists and nss-resolve answers.
  await waitFor('systemd-resolved in the workstation namespace', 20_000, async () => {
    assertRunning(l, 'ws-resolved');
    for (const flavour of RESOLVER_FLAVOURS) {
      const argv = [...flavourPrefix(flavour, nodePaths(l).wsDir), 'getent', 'hosts', 'docs.rs'];
      const r = await run('nsenter', ['-t', String(wsHolder), '-m', '-n', '--', ...argv], { allowFail: true });
      if (r.code !== 0) return undefined;
    }
    return true;
  });
  const st = await clusterStatus(l);
  const bad = st.components.filter((c) => !c.running || c.healthy === false);
  if (bad.length > 0) throw new Error(`unhealthy after up: ${bad.map((c) => `${c.name}${c.detail ? ` (${c.detail})` : ''}`).join(', ')}`);
  log(`cluster up; admin kubeconfig ${l.adminKubeconfig}`);
}

function ourHostMounts(l: Layout): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = lines
    .map((line) => line.split(' '))
    .filter((f) => f.length > 4)
    .map((f) => f[4]!.replace(/\\040/g, ' '))
    .filter((m) => m === l.stateDir || m.startsWith(l.stateDir + '/'));
  return points.sort((a, b) => b.length - a.length);
}

export const lastLogsDir = (l: Layout) => `${l.stateDir}-last-logs`;

export interface DownResult {
  seconds: number;
  restoredSysctls: string[];
}

/** Removes everything `up` created; safe to run at any time, any number of times. */
export async function down(l: Layout, log: Log): Promise<DownResult> {
  const t0 = Date.now();
  // 1. The daemons we recorded: a short grace period, then SIGKILL.
  await stopRecorded(l.pidDir, 1500);
  // 2. Everything else in the cluster cgroup (shims, containers, execs), then the cgroups themselves.
  await destroyClusterCgroup(l.cgroup);
  // 3. Network namespaces (their veths and the pods' links go with them).
  await deleteNetns(l);
  // 4. Mounts: the node's live in its own mount namespace and died with it; unmount any stray one.
  for (const m of ourHostMounts(l)) await run('umount', ['-l', m], { allowFail: true });
  // 5. The kubelet's kernel-wide sysctls, once the last instance is down (they are machine-wide).
  const restoredSysctls = otherClusterRunning(l) ? [] : restoreSysctls(cacheRoot(), l.stateDir);
  if (restoredSysctls.length) log(`restored sysctls: ${restoredSysctls.join(', ')}`);
  // 6. Runtime state (the binary cache and the registry's storage stay). The logs of this run are
  //    kept in <stateDir>-last-logs, for a look after a failed test.
  if (existsSync(l.logsDir)) {
    rmSync(lastLogsDir(l), { recursive: true, force: true });
    renameSync(l.logsDir, lastLogsDir(l));
  }
  if (ourHostMounts(l).length === 0) rmSync(l.stateDir, { recursive: true, force: true });
  removeStaleLock(l);
  if (ourHostMounts(l).length > 0) log(`left ${l.stateDir} in place: still mounted: ${ourHostMounts(l).join(', ')}`);
  return { seconds: (Date.now() - t0) / 1000, restoredSysctls };
}
