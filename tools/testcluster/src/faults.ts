// Faults for recovery tests, all inside the test cluster: restart OUR kube-apiserver (the process
// `up` recorded, started again exactly as `up` starts it) and cut the workstation off the node for
// a while (its veth to the node down and up again, from inside the workstation's namespace only).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinaries } from './build.js';
import { createClusterCgroup } from './cgroups.js';
import { apiServer } from './components.js';
import { NET, type Layout, defaultLayout, netnsPath } from './layout.js';
import { ourNetns } from './netns.js';
import { isAlive, livePid, readPid, run, signal, sleep, startDaemon, waitFor } from './proc.js';
import { probeInNode } from './status.js';

/** The workstation's end of its veth to the node (see netnsScripts in netns.ts). */
export const WS_NODE_LINK = 'to-node';

export interface ApiServerRestart {
  /** Epoch ms: the old process was signalled / had exited / the new one answered /readyz. */
  killedAt: number;
  exitedAt: number;
  readyAt: number;
  oldPid: number;
  newPid: number;
}

export interface ApiServerRestartOptions {
  layout?: Layout;
  /** SIGKILL (default: connections drop at once, as in a crash) or SIGTERM (graceful shutdown). */
  signal?: 'SIGKILL' | 'SIGTERM';
  /** Bound on the new process answering /readyz (default 120 s). */
  readyTimeoutMs?: number;
}

/**
 * Restarts the cluster's API server: signals the recorded process by its pid (never by name, so a
 * second cluster or anything on the host is untouched), waits until it is gone and its port is
 * free, starts it again with the same command line in the node's namespaces and cgroup, and waits
 * until it is ready. A start that dies is tried again: the cluster is never left without one.
 */
export async function restartApiServer(opts: ApiServerRestartOptions = {}): Promise<ApiServerRestart> {
  const l = opts.layout ?? defaultLayout();
  const rec = readPid(l.pidDir, 'kube-apiserver');
  if (!isAlive(rec)) throw new Error(`the test cluster's kube-apiserver is not running (no live pid in ${l.pidDir}); run: node --import tsx tools/testcluster/src/cli.ts up`);
  const holder = livePid(l.pidDir, 'node-holder');
  if (!holder) throw new Error('the test cluster has no node namespace holder; run: node --import tsx tools/testcluster/src/cli.ts up');
  // Resolve the binaries before the kill: a restart must not wait on anything once it started.
  const c = apiServer(l, await ensureBinaries(l, () => undefined));
  // 1. Kill it and wait until it is gone. A Go process's main thread shows as a zombie while its
  //    other threads still exit and hold the listening socket: wait for the port too.
  const killedAt = Date.now();
  signal(rec.pid, opts.signal ?? 'SIGKILL');
  await waitFor('the old kube-apiserver to exit and free its port', 60_000, async () => (isAlive(rec) || (await apiPortListening(l)) ? undefined : true), 20);
  const exitedAt = Date.now();
  // 2. Start it as `up` does (the node holder's network + mount namespace, the cluster's cgroup),
  //    and 3. wait until it is ready; a process that dies on the way is started again.
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  let lastExit = '';
  for (let attempt = 1; attempt <= 5; attempt++) {
    const newPid = startDaemon(l.logsDir, l.pidDir, {
      name: c.name,
      cmd: 'nsenter',
      args: ['-t', String(holder), '-m', '-n', '--', c.cmd, ...c.args],
      cgroupProcs: createClusterCgroup(l.cgroup),
      env: { ...process.env, ...c.env },
    });
    const started = readPid(l.pidDir, c.name);
    for (;;) {
      if (!isAlive(started)) break;
      const codes = await probeInNode(l, { api: c.probeUrl! });
      if ((codes.api ?? 0) >= 200 && (codes.api ?? 0) < 300) return { killedAt, exitedAt, readyAt: Date.now(), oldPid: rec.pid, newPid };
      if (Date.now() > deadline) throw new Error(`the restarted kube-apiserver (pid ${newPid}) is not ready after ${opts.readyTimeoutMs ?? 120_000} ms; see ${l.logsDir}/${c.name}.log`);
      await sleep(100);
    }
    lastExit = logTail(l, c.name);
    if (Date.now() > deadline) break;
    await waitFor('the API server port to be free', 10_000, async () => ((await apiPortListening(l)) ? undefined : true), 50).catch(() => undefined);
  }
  throw new Error(`the restarted kube-apiserver keeps exiting; last lines of ${l.logsDir}/${c.name}.log:\n${lastExit}`);
}

/** Something listens on the API server's port in the node's namespace. */
async function apiPortListening(l: Layout): Promise<boolean> {
  const r = await run('nsenter', [`--net=${netnsPath(l.netns.node)}`, '--', 'ss', '-Hltn', `sport = :${NET.apiPort}`], { allowFail: true });
  return r.stdout.trim() !== '';
}

function logTail(l: Layout, name: string): string {
  try {
    return readFileSync(join(l.logsDir, `${name}.log`), 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
}

export interface WorkstationCut {
  /** Epoch ms the link went down and came up again. */
  downAt: number;
  upAt: number;
}

/**
 * Cuts the workstation off the node (API server and all) for `ms`: its veth to the node goes down
 * inside the workstation's namespace and comes up again (also when something fails in between).
 * Its other link (the "internet") stays, like a laptop whose VPN drops. The host's links, routes
 * and namespaces are never touched.
 */
export async function cutWorkstation(ms: number, opts: { layout?: Layout } = {}): Promise<WorkstationCut> {
  const l = opts.layout ?? defaultLayout();
  if (!Number.isFinite(ms) || ms <= 0 || ms > 600_000) throw new Error(`cutWorkstation: ms must be between 1 and 600000, got ${ms}`);
  const ns = l.netns.ws;
  if (!ourNetns(l).includes(ns)) throw new Error(`the test cluster's workstation namespace ${ns} does not exist; run: node --import tsx tools/testcluster/src/cli.ts up`);
  const link = (state: 'up' | 'down') => run('ip', ['-n', ns, 'link', 'set', WS_NODE_LINK, state]);
  await link('down');
  const downAt = Date.now();
  try {
    await sleep(Math.max(0, ms - (Date.now() - downAt)));
  } finally {
    await link('up');
  }
  const upAt = Date.now();
  // Up again = the kernel put the connected route back; the node answers pings.
  await waitFor(`the workstation's route to ${NET.nodeIp}`, 10_000, async () => {
    const r = await run('ip', ['-n', ns, 'route', 'get', NET.nodeIp], { allowFail: true });
    return r.code === 0 && r.stdout.includes(`dev ${WS_NODE_LINK}`) ? true : undefined;
  }, 20);
  return { downAt, upAt };
}
