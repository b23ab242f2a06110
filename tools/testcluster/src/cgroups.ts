// The cluster's cgroup (cgroup v1, cgroupfs driver): /<name> in every hierarchy. Every process of
// the cluster lives below it (daemons in /<name>/system, pods in /<name>/kubepods created by the
// kubelet), which lets `down` find and kill exactly what the cluster started, and lets `status`
// measure the cluster's memory.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isClusterCgroupName } from './layout.js';
import { signal, sleep } from './proc.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * Mounted hierarchies (one directory per mount; "cpu" and "cpuacct" may be the same one),
 * including the controller-less cgroup2 "unified" one of hybrid mode: runc mirrors every
 * container's cgroup there too, so it must be cleaned up like the others.
 */
export function hierarchies(): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const name of readdirSync(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, name);
    if (!existsSync(join(dir, 'cgroup.procs'))) continue;
    const id = `${statSync(dir).dev}:${statSync(dir).ino}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(dir);
  }
  return out;
}

/**
 * Creates /<name>, /<name>/system (daemons) and /<name>/exec (commands run through exec/wsExec,
 * so `down` also ends what tests started on the workstation); returns the cgroup.procs files of `sub`.
 */
export function createClusterCgroup(name: string, sub: 'system' | 'exec' = 'system'): string[] {
  const procs: string[] = [];
  for (const h of hierarchies()) {
    for (const rel of [name, join(name, 'system'), join(name, 'exec')]) {
      const dir = join(h, rel);
      mkdirSync(dir, { recursive: true });
      if (existsSync(join(dir, 'cpuset.cpus'))) {
        // A new cpuset cgroup starts empty and refuses tasks until it gets cpus and mems.
        const parent = join(dir, '..');
        for (const f of ['cpuset.cpus', 'cpuset.mems']) {
          if (readFileSync(join(dir, f), 'utf8').trim() === '') writeFileSync(join(dir, f), readFileSync(join(parent, f), 'utf8'));
        }
      }
    }
    procs.push(join(h, name, sub, 'cgroup.procs'));
  }
  return procs;
}

function subtree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...subtree(join(dir, e.name)));
  out.push(dir);
  return out; // children before parents
}

export function pidsIn(name: string): number[] {
  const pids = new Set<number>();
  for (const h of hierarchies()) {
    for (const dir of subtree(join(h, name))) {
      try {
        for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
      } catch {
        /* removed meanwhile */
      }
    }
  }
  return [...pids];
}

/** Kills every process in the cluster cgroup (freezing it first so nothing forks meanwhile) and removes the cgroups. */
export async function destroyClusterCgroup(name: string, timeoutMs = 8000): Promise<void> {
  const freezer = join(CGROUP_ROOT, 'freezer', name, 'freezer.state');
  const deadline = Date.now() + timeoutMs;
  while (pidsIn(name).length > 0 && Date.now() < deadline) {
    const canFreeze = existsSync(freezer);
    if (canFreeze) trySet(freezer, 'FROZEN');
    for (const pid of pidsIn(name)) signal(pid, 'SIGKILL');
    if (canFreeze) trySet(freezer, 'THAWED');
    await sleep(50);
  }
  const left = pidsIn(name);
  if (left.length > 0) throw new Error(`processes ${left.join(', ')} in cgroup /${name} survived SIGKILL`);
  for (const h of hierarchies()) {
    for (const dir of subtree(join(h, name))) {
      for (let i = 0; i < 20; i++) {
        try {
          rmdirSync(dir);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
          await sleep(50); // a just-killed task can keep a cgroup busy for a moment
        }
      }
    }
  }
}

function trySet(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch {
    /* best effort */
  }
}

export interface MemoryUsage {
  /** memory.usage_in_bytes: everything charged, page cache included. */
  usageBytes: number;
  /** total_rss + total_shmem from memory.stat: what the processes themselves hold. */
  rssBytes: number;
}

export function memoryUsage(name: string): MemoryUsage | undefined {
  const dir = join(CGROUP_ROOT, 'memory', name);
  try {
    const usageBytes = Number(readFileSync(join(dir, 'memory.usage_in_bytes'), 'utf8').trim());
    const stat = Object.fromEntries(
      readFileSync(join(dir, 'memory.stat'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    );
    return { usageBytes, rssBytes: Number(stat.total_rss ?? 0) + Number(stat.total_shmem ?? 0) };
  } catch {
    return undefined;
  }
}

export function cgroupExists(name: string): boolean {
  return hierarchies().some((h) => existsSync(join(h, name)));
}

/** Another instance's cgroup exists (its kubelet may rely on the machine-wide sysctls). */
export function otherClusterRunning(l: { cgroup: string }): boolean {
  const memory = join(CGROUP_ROOT, 'memory');
  if (!existsSync(memory)) return false;
  return readdirSync(memory).some((n) => n !== l.cgroup && isClusterCgroupName(n));
}
