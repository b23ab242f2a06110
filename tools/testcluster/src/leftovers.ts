// Finds anything of the test cluster that still exists on the machine: used by tests (after
// `down`, also after a crashed `up`) and by `status` to say whether the machine is clean.
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { hierarchies } from './cgroups.js';
import { type Layout, netnsPath } from './layout.js';
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
  const nsPaths = Object.values(l.netns).map((n) => netnsPath(n));
  const nsSet = new Set([...knownNetnsInodes, ...netnsInodes(l)].map((i) => `net:[${i}]`));
  const processes: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      const net = readlinkSync(`/proc/${pid}/ns/net`);
      const ours = nsSet.has(net) || cmd.includes(l.stateDir + '/') || nsPaths.some((p) => cmd.includes(p + ' ') || cmd.endsWith(p));
      if (ours) processes.push(`${pid} ${cmd.slice(0, 160)}`);
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

/** What the cluster must never change in the host namespace; compared before `up` and after `down`. */
export interface HostSnapshot {
  routes: string;
  links: string;
  iptables: string;
  resolvConf: string;
  /** The workstation pins its own over an /etc overlay; the host's must stay as it was. */
  nsswitchConf: string;
  sysctls: Record<string, string>;
}

export async function hostSnapshot(): Promise<HostSnapshot> {
  const { run } = await import('./proc.js');
  const { KUBELET_SYSCTLS } = await import('./sysctl.js');
  const out = async (cmd: string, args: string[]) => (await run(cmd, args, { allowFail: true })).stdout;
  // Counters and generation comments change on their own; the rules themselves must not.
  const iptables = (await out('iptables-save', []))
    .split('\n')
    .filter((x) => !x.startsWith('#'))
    .map((x) => x.replace(/\[\d+:\d+\]/g, ''))
    .join('\n');
  const links = (await out('ip', ['-o', 'link', 'show']))
    .split('\n')
    .map((x) => x.split(':').slice(0, 2).join(':'))
    .join('\n');
  const sysctls: Record<string, string> = {};
  for (const k of KUBELET_SYSCTLS) sysctls[k] = readFileSync(`/proc/sys/${k}`, 'utf8').trim();
  for (const k of ['net/ipv4/ip_forward', 'net/ipv4/conf/all/route_localnet']) sysctls[k] = readFileSync(`/proc/sys/${k}`, 'utf8').trim();
  return { routes: await out('ip', ['route', 'show', 'table', 'all']), links, iptables, resolvConf: readFileSync('/etc/resolv.conf', 'utf8'), nsswitchConf: readFileSync('/etc/nsswitch.conf', 'utf8'), sysctls };
}
