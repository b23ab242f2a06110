// CPU time per process over a measurement, read from /proc/<pid>/stat (utime + stime): shows
// which hop of the tunnel (root daemon, user daemon, API server, kubelet, containerd, manager)
// pays for a figure. Every process of the test cluster shares this PID namespace.
import { readFileSync, readdirSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

export type CpuSnapshot = Map<number, { name: string; ticks: number }>;

export function cpuSnapshot(): CpuSnapshot {
  const snap: CpuSnapshot = new Map();
  for (const ent of readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const stat = readFileSync(`/proc/${ent}/stat`, 'utf8');
      // comm is in parentheses and may contain spaces; fields after it are space-separated.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' ');
      const ticks = Number(f[11]) + Number(f[12]);
      snap.set(Number(ent), { name: nameOf(Number(ent), comm), ticks });
    } catch {
      // exited meanwhile
    }
  }
  return snap;
}

/** A readable name: node processes are told apart by their script (daemon role, manager, client). */
function nameOf(pid: number, comm: string): string {
  if (comm !== 'node' && comm !== 'MainThread') return comm;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.some((a) => a.includes('root-daemon'))) return 'node:root-daemon';
    if (argv.includes('connector-foreground')) return 'node:user-daemon';
    if (argv.some((a) => a.includes('traffic-agent.js'))) return 'node:traffic-agent';
    if (argv.some((a) => a.includes('traffic-manager'))) return 'node:traffic-manager';
    if (argv.includes('-e')) return 'node:bench-client/server';
    return 'node:other';
  } catch {
    return 'node';
  }
}

/** Milliseconds of CPU per process name between two snapshots, largest first. */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): { name: string; ms: number }[] {
  const byName = new Map<string, number>();
  for (const [pid, a] of after) {
    const d = (a.ticks - (before.get(pid)?.ticks ?? 0)) * TICK_MS;
    if (d > 0) byName.set(a.name, (byName.get(a.name) ?? 0) + d);
  }
  return [...byName].map(([name, ms]) => ({ name, ms })).sort((x, y) => y.ms - x.ms);
}

/** The whole machine's CPU (all cores) from /proc/stat, in ms: busy includes irq and softirq time, which no process is charged for. */
export interface MachineCpu {
  busyMs: number;
  idleMs: number;
  irqMs: number;
}

export function machineCpu(): MachineCpu {
  // cpu  user nice system idle iowait irq softirq steal ...
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  return { busyMs: (user + nice + system + irq + softirq + steal) * TICK_MS, idleMs: (idle + iowait) * TICK_MS, irqMs: (irq + softirq) * TICK_MS };
}

export function machineDelta(a: MachineCpu, b: MachineCpu): MachineCpu {
  return { busyMs: b.busyMs - a.busyMs, idleMs: b.idleMs - a.idleMs, irqMs: b.irqMs - a.irqMs };
}
