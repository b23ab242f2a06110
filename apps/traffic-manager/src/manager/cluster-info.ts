// GET /cluster-info: the cluster's pod and service subnets, DNS address and domain, read with the
// manager's service account. The root daemon turns this into routes, so a wrong answer means no
// traffic: each value has a primary source and a logged fallback.
import { readFileSync } from 'node:fs';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { coveringCidr } from '@tel/cidr';
import type { ClusterInfo } from '@tel/contracts';
import type { Logger } from '@tel/logging';

/** A clusterIP no sane service CIDR contains; creating a Service with it makes the API server name the valid range. */
const PROBE_IPS = ['1.1.1.1', '2.2.2.2'];

/** Extracts the CIDRs from "... The range of valid IPs is 10.96.0.0/12" (one per IP family). */
export function parseServiceRangeError(message: string): string[] {
  const out: string[] = [];
  for (const m of message.matchAll(/[Tt]he range of valid IPs is ([0-9a-fA-F.:]+\/\d{1,3})/g)) {
    if (m[1] && !out.includes(m[1])) out.push(m[1]);
  }
  return out;
}

/** `search ns.svc.cluster.local svc.cluster.local cluster.local` → `cluster.local`. */
export function clusterDomainFromResolvConf(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*search\s+(.+)$/.exec(line);
    if (!m?.[1]) continue;
    for (const d of m[1].trim().split(/\s+/)) {
      if (d.startsWith('svc.')) return d.slice(4);
    }
  }
  return undefined;
}

function errorText(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  if (typeof e.body === 'string') {
    try {
      const parsed = JSON.parse(e.body) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      return e.body;
    }
  }
  if (e.body && typeof e.body === 'object' && 'message' in e.body) return String((e.body as { message: unknown }).message);
  return e.message ?? String(err);
}

export interface ClusterInfoSource {
  kc: KubeConfig;
  /** Where the probe Service is (dry-run) created: the manager's own namespace. */
  namespace: string;
  log: Logger;
  resolvConf?: string;
  /** How long an answer is reused; nodes and the service range rarely change. */
  cacheMs?: number;
}

export function clusterInfoProvider(src: ClusterInfoSource): () => Promise<ClusterInfo> {
  const core = src.kc.makeApiClient(CoreV1Api);
  const log = src.log.child('cluster-info');
  let cached: { at: number; info: Promise<ClusterInfo> } | undefined;

  async function podSubnets(): Promise<string[]> {
    const nodes = await core.listNode();
    const cidrs = new Set<string>();
    for (const n of nodes.items) for (const c of n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : [])) cidrs.add(c);
    if (cidrs.size > 0) return [...cidrs];
    const pods = await core.listPodForAllNamespaces();
    const ips = pods.items.filter((p) => p.status?.podIP && !p.spec?.hostNetwork).map((p) => p.status!.podIP!);
    const cover = coveringCidr(ips);
    log.warn('nodes carry no spec.podCIDRs; using the range covering pod IPs', { cidr: cover });
    return cover ? [cover] : [];
  }

  async function serviceSubnets(): Promise<string[]> {
    for (const ip of PROBE_IPS) {
      try {
        await core.createNamespacedService({
          namespace: src.namespace,
          dryRun: 'All',
          body: { metadata: { generateName: 'tel-subnet-probe-' }, spec: { clusterIP: ip, ports: [{ port: 443 }] } },
        });
        // The probe IP was valid: the range is unusual; try the next one.
      } catch (err) {
        const cidrs = parseServiceRangeError(errorText(err));
        if (cidrs.length) return cidrs;
        log.warn('service subnet probe gave no range', { error: errorText(err) });
        break;
      }
    }
    const svcs = await core.listServiceForAllNamespaces();
    const ips = svcs.items.flatMap((s) => s.spec?.clusterIPs ?? (s.spec?.clusterIP ? [s.spec.clusterIP] : [])).filter((ip) => ip !== 'None');
    const cover = coveringCidr(ips);
    log.warn('using the range covering existing ClusterIPs as the service subnet', { cidr: cover });
    return cover ? [cover] : [];
  }

  async function dnsIp(): Promise<string | undefined> {
    try {
      const svc = await core.readNamespacedService({ name: 'kube-dns', namespace: 'kube-system' });
      const ip = svc.spec?.clusterIP;
      return ip && ip !== 'None' ? ip : undefined;
    } catch (err) {
      log.warn('no kube-dns service in kube-system', { error: errorText(err) });
      return undefined;
    }
  }

  async function compute(): Promise<ClusterInfo> {
    const [pods, services, dns] = await Promise.all([podSubnets(), serviceSubnets(), dnsIp()]);
    let clusterDomain = 'cluster.local';
    try {
      clusterDomain = clusterDomainFromResolvConf(src.resolvConf ?? readFileSync('/etc/resolv.conf', 'utf8')) ?? clusterDomain;
    } catch {
      // not in a pod: keep the default
    }
    const info: ClusterInfo = { podSubnets: pods, serviceSubnets: services, clusterDomain };
    if (dns) info.dnsIp = dns;
    log.info('cluster info', { ...info });
    return info;
  }

  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > (src.cacheMs ?? 30_000)) {
      const info = compute();
      cached = { at: now, info };
      info.catch(() => {
        if (cached?.info === info) cached = undefined; // never cache a failure
      });
    }
    return cached.info;
  };
}
