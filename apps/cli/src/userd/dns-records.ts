// Turning Services and EndpointSlices into the compact records the root daemon's resolver answers
// from (only what answers need), and the diff between two views that becomes one push.
// Boundary: kube API objects (user daemon) → DnsRecordsUpdate (root daemon contract).
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { DnsNamespaceRecords, DnsRecordsUpdate, DnsServiceRecord } from '@tel/contracts';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * Drop what no answer needs from an object the informer caches (it caches the very object it hands
 * to the event handlers): managed fields, annotations (kubectl's last-applied copy), owners, status,
 * endpoint topology. Name, namespace, resourceVersion (the informer compares it), labels and spec stay.
 */
export function slim(o: V1Service | V1EndpointSlice): void {
  const m = o.metadata;
  if (m) {
    delete m.managedFields;
    delete m.annotations;
    delete m.ownerReferences;
  }
  if ('spec' in o) delete o.status;
  if ('endpoints' in o) {
    for (const ep of o.endpoints ?? []) {
      delete ep.targetRef;
      delete ep.nodeName;
      delete ep.zone;
      delete ep.hints;
      delete ep.deprecatedTopology;
    }
  }
}

/** The ready endpoints of each Service, from its EndpointSlices (several slices per Service add up). */
export function readyEndpoints(slices: Iterable<V1EndpointSlice>): Map<string, { ip: string; hostname?: string }[]> {
  const out = new Map<string, { ip: string; hostname?: string }[]>();
  for (const slice of slices) {
    const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const list = out.get(svc) ?? [];
    out.set(svc, list);
    for (const ep of slice.endpoints ?? []) {
      // Like CoreDNS: an endpoint whose readiness is unknown counts as ready.
      if (ep.conditions?.ready === false) continue;
      for (const ip of ep.addresses ?? []) list.push({ ip, ...(ep.hostname ? { hostname: ep.hostname } : {}) });
    }
  }
  return out;
}

/**
 * One Service as a record. `endpoints` (ready endpoints per Service name) is undefined when the
 * EndpointSlices are not readable: headless Services then carry none, and resolve in the cluster.
 */
export function serviceRecord(svc: V1Service, endpoints: ReadonlyMap<string, { ip: string; hostname?: string }[]> | undefined): DnsServiceRecord | undefined {
  const name = svc.metadata?.name;
  const spec = svc.spec;
  if (!name || !spec) return undefined;
  const ports = (spec.ports ?? [])
    .filter((p) => p.name && Number.isInteger(p.port))
    .map((p) => ({ name: p.name!, protocol: (p.protocol ?? 'TCP').toLowerCase() as 'tcp' | 'udp' | 'sctp', port: p.port }));
  const withPorts = ports.length ? { ports } : {};
  if (spec.type === 'ExternalName') return spec.externalName ? { name, externalName: spec.externalName, ...withPorts } : undefined;
  if (spec.clusterIP === 'None') {
    const eps = endpoints?.get(name);
    return { name, headless: true, ...(endpoints ? { endpoints: eps ?? [] } : {}), ...withPorts };
  }
  const ips = (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).filter((ip) => ip && ip !== 'None');
  // A Service without an address yet (being created) is left out: its name goes to the cluster.
  if (!ips.length) return undefined;
  return { name, clusterIPs: ips, ...withPorts };
}

/** A namespace's records, sorted by name (so equal views serialize equally). */
export function namespaceRecords(namespace: string, services: Iterable<V1Service>, endpoints: ReadonlyMap<string, { ip: string; hostname?: string }[]> | undefined): DnsNamespaceRecords {
  const records: DnsServiceRecord[] = [];
  const incomplete: string[] = [];
  for (const s of services) {
    const r = serviceRecord(s, endpoints);
    if (r) records.push(r);
    else if (s.metadata?.name) incomplete.push(s.metadata.name);
  }
  records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // A Service we could not turn into a record must not read as NXDOMAIN: the namespace is then
  // answered by the cluster DNS until it is.
  if (incomplete.length) return { namespace, complete: false, services: [], reason: `Service ${incomplete.sort().join(', ')} has no address yet` };
  return { namespace, complete: true, services: records };
}

/**
 * The push that turns the root daemon's copy `sent` into `next`: changed namespaces and removed
 * ones; everything when `reset`. Undefined when nothing changed. `sent` is updated in place.
 */
export function diffRecords(sent: Map<string, string>, next: ReadonlyMap<string, DnsNamespaceRecords>, fallback: string[], reset: boolean, sentFallback: string | undefined): DnsRecordsUpdate | undefined {
  const namespaces: DnsNamespaceRecords[] = [];
  const removed: string[] = [];
  if (reset) sent.clear();
  for (const [ns, rec] of next) {
    const key = JSON.stringify(rec);
    if (sent.get(ns) === key) continue;
    sent.set(ns, key);
    namespaces.push(rec);
  }
  for (const ns of [...sent.keys()]) {
    if (next.has(ns)) continue;
    sent.delete(ns);
    removed.push(ns);
  }
  if (!reset && !namespaces.length && !removed.length && JSON.stringify(fallback) === sentFallback) return undefined;
  return { reset, namespaces, ...(removed.length ? { removed } : {}), ...(fallback.length ? { fallback } : {}) };
}
