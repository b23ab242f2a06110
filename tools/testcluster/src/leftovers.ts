// Finds anything of the test cluster that still exists on the machine: used by tests (after
// `down`, also after a crashed `up`) and by `status` to say whether the machine is clean.
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { hierarchies } from './cgroups.js';
import { type Layout, cacheRoot, netnsPath } from './layout.js';
import { ourNetns } from './netns.js';

/** Inode numbers of our network namespaces (`net:[N]`), to recognise processes inside them. */
export function netnsInodes(l: Layout): number[] {
  return Object.values(l.netns)
    .map((n) => netnsPath(n))
    .filter((p) => existsSync(p))
    .map((p) => statSync(p).ino);
}

export interface Leftovers {
  netns: string[];
  cgroups: string[];
  /** "pid cmdline" of processes that belong to the cluster. */
  processes: string[];
  /** Host mount points under the state dir. */
  mounts: string[];
}

export function findLeftovers(l: Layout, knownNetnsInodes: number[] = []): Leftovers {
  const root = cacheRoot();
  const nsSet = new Set([...knownNetnsInodes, ...netnsInodes(l)].map((i) => `net:[${i}]`));
  const processes: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      const net = readlinkSync(`/proc/${pid}/ns/net`);
      if (nsSet.has(net) || cmd.includes(root) || cmd.includes(l.stateDir)) processes.push(`${pid} ${cmd.slice(0, 160)}`);
    } catch {
      /* exited */
    }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((m) => m && (m.startsWith(l.stateDir) || Object.values(l.netns).some((n) => m === netnsPath(n))));
  return {
    netns: ourNetns(l),
    cgroups: hierarchies().filter((h) => existsSync(`${h}/${l.cgroup}`)).map((h) => `${h}/${l.cgroup}`),
    processes,
    mounts,
  };
}

export function isClean(x: Leftovers): boolean {
  return x.netns.length + x.cgroups.length + x.processes.length + x.mounts.length === 0;
}
