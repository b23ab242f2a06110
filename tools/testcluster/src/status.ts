// What is running and healthy: recorded daemons (pid still ours), their health endpoints probed
// from inside the node namespace, the node's Ready condition and CoreDNS's availability.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARGO_ROLLOUTS_PROBE } from './argo-rollouts.js';
import { cgroupExists, memoryUsage, type MemoryUsage } from './cgroups.js';
import { INET_NAMES, NET, NODE_NAME, type Layout, netnsPath } from './layout.js';
import { ourNetns } from './netns.js';
import { isAlive, readPid, run } from './proc.js';
import { kubectl } from './kubectl.js';

/** Every daemon `up` starts, in start order. */
export const DAEMONS = [
  'node-holder', 'ws-holder', 'etcd', 'registry', 'containerd', 'registry-forwarder', 'inet', 'ws-dbus', 'ws-resolved',
  'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy',
  'argo-rollouts',
] as const;

const PROBES: Record<string, string> = {
  etcd: 'http://127.0.0.1:2379/health',
  'kube-apiserver': `https://127.0.0.1:${NET.apiPort}/readyz`,
  'kube-controller-manager': 'https://127.0.0.1:10257/healthz',
  'kube-scheduler': 'https://127.0.0.1:10259/healthz',
  kubelet: 'http://127.0.0.1:10248/healthz',
  'kube-proxy': 'http://127.0.0.1:10256/healthz',
  'argo-rollouts': ARGO_ROLLOUTS_PROBE,
  // The inet servers, as the node reaches them (through its default route).
  inet: `http://${INET_NAMES['docs.rs']}/`,
};

export interface ComponentStatus {
  name: string;
  pid?: number;
  running: boolean;
  /** Health probe result; undefined when the component has no probe. */
  healthy?: boolean;
  detail?: string;
}

export interface ClusterStatus {
  /** up: everything running and healthy; down: nothing of ours exists; partial: anything else. */
  state: 'up' | 'down' | 'partial';
  components: ComponentStatus[];
  netns: string[];
  nodeReady: boolean;
  corednsReady: boolean;
  memory?: MemoryUsage;
  /** Duration of the `up` that started this cluster (from <stateDir>/up.json). */
  lastUp?: { seconds: number; at: string };
  stateDir: string;
  adminKubeconfig: string;
  developerKubeconfig: string;
  registry: string;
}

/** Probes several URLs with one process inside the node namespace; returns name -> HTTP code. */
export async function probeInNode(l: Layout, urls: Record<string, string>): Promise<Record<string, number>> {
  const names = Object.keys(urls);
  if (names.length === 0 || !existsSync(netnsPath(l.netns.node))) return {};
  const script = names
    .map((n) => `echo "${n} $(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 '${urls[n]}')" &`)
    .join('\n') + '\nwait\n';
  const res = await run('nsenter', [`--net=${netnsPath(l.netns.node)}`, '--', '/bin/sh', '-c', script], { allowFail: true, timeoutMs: 10_000 });
  const out: Record<string, number> = {};
  for (const line of res.stdout.split('\n')) {
    const [n, code] = line.trim().split(' ');
    if (n) out[n] = Number(code ?? 0);
  }
  return out;
}

async function containerdHealthy(l: Layout): Promise<boolean> {
  const sock = `${l.stateDir}/containerd/containerd.sock`;
  if (!existsSync(sock)) return false;
  const r = await run('ctr', ['--address', sock, 'version'], { allowFail: true, timeoutMs: 5000 });
  return r.code === 0;
}

/**
 * resolved answers on the workstation's system bus. Deliberately not a lookup: tests reconfigure
 * the workstation's DNS (that is what Telepresence does), and that must not make the cluster
 * look broken to a concurrent ensureClusterUp().
 */
async function resolvedHealthy(l: Layout): Promise<boolean> {
  const holder = readPid(l.pidDir, 'ws-holder');
  if (!isAlive(holder)) return false;
  const r = await run('nsenter', ['-t', String(holder.pid), '-m', '-n', '--', 'resolvectl', 'status', '--no-pager'], {
    allowFail: true,
    timeoutMs: 5000,
  });
  return r.code === 0;
}

async function forwarderHealthy(l: Layout): Promise<boolean> {
  try {
    const res = await fetch(`http://${l.registry}/v2/`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

export interface NodeConditions {
  nodeReady: boolean;
  corednsReady: boolean;
}

export async function nodeConditions(l: Layout): Promise<NodeConditions> {
  const r = await kubectl(l, ['get', `node/${NODE_NAME}`, 'deployment/coredns', '-n', 'kube-system', '-o', 'json'], { allowFail: true, timeoutMs: 10_000 });
  if (r.code !== 0 && !r.stdout) return { nodeReady: false, corednsReady: false };
  try {
    const list = JSON.parse(r.stdout) as { items?: any[] };
    const items = list.items ?? [list];
    const node = items.find((i) => i.kind === 'Node');
    const dns = items.find((i) => i.kind === 'Deployment');
    const nodeReady = !!node?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
    const corednsReady = (dns?.status?.availableReplicas ?? 0) >= 1;
    return { nodeReady, corednsReady };
  } catch {
    return { nodeReady: false, corednsReady: false };
  }
}

export async function clusterStatus(l: Layout): Promise<ClusterStatus> {
  const components: ComponentStatus[] = DAEMONS.map((name) => {
    const rec = readPid(l.pidDir, name);
    const running = isAlive(rec);
    return { name, running, ...(running ? { pid: rec.pid } : {}) };
  });
  const running = (n: string) => components.find((c) => c.name === n)?.running ?? false;
  const probes: Record<string, string> = { ...PROBES, registry: `http://${l.registry}/v2/` };
  const urls = Object.fromEntries(Object.entries(probes).filter(([n]) => running(n)));
  const [codes, ctrd, resolved, fwd, cond] = await Promise.all([
    probeInNode(l, urls),
    running('containerd') ? containerdHealthy(l) : Promise.resolve(false),
    running('ws-resolved') ? resolvedHealthy(l) : Promise.resolve(false),
    running('registry-forwarder') ? forwarderHealthy(l) : Promise.resolve(false),
    running('kube-apiserver') ? nodeConditions(l) : Promise.resolve({ nodeReady: false, corednsReady: false }),
  ]);
  for (const c of components) {
    if (!c.running) continue;
    if (c.name in probes) {
      const code = codes[c.name] ?? 0;
      c.healthy = code >= 200 && code < 300;
      if (!c.healthy) c.detail = code ? `HTTP ${code} from ${probes[c.name]}` : `no answer from ${probes[c.name]}`;
    } else if (c.name === 'containerd') c.healthy = ctrd;
    else if (c.name === 'ws-resolved') {
      c.healthy = resolved;
      if (!resolved) c.detail = 'resolvectl status failed in the workstation namespace';
    } else if (c.name === 'registry-forwarder') c.healthy = fwd;
  }
  const netns = ourNetns(l);
  const allGood = components.every((c) => c.running && c.healthy !== false) && cond.nodeReady && cond.corednsReady;
  const anything = components.some((c) => c.running) || netns.length > 0 || cgroupExists(l.cgroup) || existsSync(l.pidDir);
  const mem = memoryUsage(l.cgroup);
  let lastUp: ClusterStatus['lastUp'];
  try {
    const u = JSON.parse(readFileSync(join(l.stateDir, 'up.json'), 'utf8')) as { seconds: number; at: string };
    lastUp = { seconds: u.seconds, at: u.at };
  } catch {
    /* not up (yet) */
  }
  return {
    ...(lastUp ? { lastUp } : {}),
    state: allGood ? 'up' : anything ? 'partial' : 'down',
    components,
    netns,
    ...cond,
    ...(mem ? { memory: mem } : {}),
    stateDir: l.stateDir,
    adminKubeconfig: l.adminKubeconfig,
    developerKubeconfig: l.developerKubeconfig,
    registry: l.registry,
  };
}

export function formatStatus(s: ClusterStatus): string {
  const mib = (b: number) => `${Math.round(b / 1048576)} MiB`;
  const lines = [`cluster: ${s.state}`];
  for (const c of s.components) {
    const state = !c.running ? 'stopped' : c.healthy === false ? 'unhealthy' : 'running';
    lines.push(`  ${c.name.padEnd(24)} ${state.padEnd(10)} ${c.pid ? `pid ${c.pid}` : ''}${c.detail ? `  (${c.detail})` : ''}`);
  }
  lines.push(`  ${'node Ready'.padEnd(24)} ${s.nodeReady}`);
  lines.push(`  ${'coredns available'.padEnd(24)} ${s.corednsReady}`);
  if (s.netns.length) lines.push(`network namespaces: ${s.netns.join(' ')}`);
  if (s.memory) lines.push(`memory: ${mib(s.memory.usageBytes)} charged (${mib(s.memory.rssBytes)} rss+shmem)`);
  if (s.lastUp) lines.push(`up since ${s.lastUp.at} (came up in ${s.lastUp.seconds.toFixed(1)}s)`);
  if (s.state !== 'down') {
    lines.push(`admin kubeconfig:     ${s.adminKubeconfig}`);
    lines.push(`developer kubeconfig: ${s.developerKubeconfig}`);
    lines.push(`registry:             ${s.registry}`);
    lines.push(`logs:                 ${s.stateDir}/logs/<component>.log`);
  }
  return lines.join('\n');
}
