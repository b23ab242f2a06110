// Boundary: CLI / user daemon → root daemon ("daemon"), over a unix socket readable only by root
// and the session's owner. Local contract: ships with the CLI, need not stay compatible.
import type { Method } from './contract.js';
import type { DaemonVersion, Empty, SetLogLevelRequest } from './common.js';
import type { DnsConfig, DnsNamespace, DnsStatus } from './dns.js';

export interface RootDaemonStatus {
  version: DaemonVersion;
  logFile: string;
  uptimeSeconds: number;
  /** uid of the user this root daemon serves (socket owner). */
  ownerUid: number;
}

/** Why a subnet is kept off the tunnel; shown by `telepresence status`. */
export type ExclusionReason = 'never-proxy' | 'api-server';

export interface NetworkConfig {
  /**
   * Unix socket (owned by the session's user, served by the user daemon) on which each accepted
   * connection is a byte stream to the traffic manager's API port (through the port-forward).
   * The root daemon speaks the tunnel protocol of manager/tunnel.ts over it.
   */
  managerSocket: string;
  /**
   * Unix socket (served by the user daemon) whose connections reach the manager's TCP stream
   * tunnel (manager/tunnel.ts MANAGER_TCP_PORT); the root daemon's own proxy carries TCP over it
   * when it refuses the user daemon's listener.
   */
  tcpTunnelSocket: string;
  /**
   * Port of the user daemon's TCP listener on 127.0.0.1: the REDIRECT rule for routed subnets
   * points there, so the user daemon accepts each connection itself (SO_ORIGINAL_DST) and carries
   * it; the root daemon is out of TCP's path. Used only when /proc/net/tcp shows that listener
   * owned by the session's user. Absent (the root daemon's own tests) or not owned by that user:
   * the redirect goes to the root daemon's own proxy, which carries TCP over `tcpTunnelSocket`.
   */
  tcpListenerPort?: number;
  /** CIDRs to route into tel0: cluster pod and service subnets plus also-proxy. */
  subnets: string[];
  /** CIDRs (and single addresses as /32) that must not be routed, with the reason. */
  excluded: { cidr: string; reason: ExclusionReason }[];
  /**
   * Address given to tel0 (as a /32) and used as the source of routed connections. Must lie
   * outside `subnets` and `excluded`. Default: the first of 198.18.127.254, 198.19.255.254,
   * 198.18.255.254, 198.18.63.254 that is.
   */
  tunAddress?: string;
  /**
   * Cluster DNS on the workstation: when set, the root daemon runs its resolver (on tel0's
   * address) and hooks it into the system; names are resolved through the manager's `POST /dns`.
   * Namespaces arrive separately (`setDnsNamespaces`), before or after connecting.
   */
  dns?: DnsConfig;
}

export interface NetworkStatus {
  /** Name of the TUN link, "tel0". */
  device: string;
  /** Routes actually installed (subnets minus exclusions, split into the fewest CIDRs). */
  routedSubnets: string[];
  excluded: { cidr: string; reason: ExclusionReason }[];
  /** True while the tunnel to the manager answers. */
  tunnelHealthy: boolean;
  /** Connections and UDP flows currently carried. */
  activeStreams: number;
  /**
   * How TCP travels: `user-daemon` (redirected to the user daemon's listener, which carries it on
   * the manager's TCP stream tunnel; its counts are in the user daemon's status) or `stream` (the
   * root daemon's proxy on that tunnel, one reused port-forward stream per connection). Counts
   * since connect.
   */
  tcp?: { via: 'user-daemon' | 'stream'; ok?: number; failed?: number; lastError?: string };
  /** The workstation resolver, when `dns` was configured and it started. */
  dns?: DnsStatus;
  /**
   * Why DNS is not running although `dns` was configured. The network stays connected (routes work
   * by address); only names need the resolver.
   */
  dnsError?: string;
  /** Which path cluster names take (the local view of Services, or the cluster DNS) and why. */
  dnsView?: DnsViewStatus;
}

/**
 * One Service as the workstation resolver needs it (the user daemon's watched view of Services
 * and EndpointSlices). Only what answers need; everything else of the object is dropped.
 */
export interface DnsServiceRecord {
  name: string;
  /** ClusterIPs (IPv4 and IPv6); absent or empty for headless and ExternalName Services. */
  clusterIPs?: string[];
  /** `clusterIP: None`: names answer with the ready endpoints. */
  headless?: boolean;
  /**
   * Headless only: the ready endpoints' addresses, each with the pod's hostname when the
   * EndpointSlice names one (`<hostname>.<svc>.<ns>.svc.<clusterDomain>`). Absent when the
   * EndpointSlices could not be read: then the Service's names go to the cluster DNS.
   */
  endpoints?: { ip: string; hostname?: string }[];
  /** ExternalName Services: the CNAME target. */
  externalName?: string;
  /** Named ports, for SRV `_<name>._<protocol>.<svc>.<ns>.svc.<clusterDomain>`. */
  ports?: { name: string; protocol: 'tcp' | 'udp' | 'sctp'; port: number }[];
}

/** The Services of one namespace, or why that namespace's names go to the cluster DNS. */
export interface DnsNamespaceRecords {
  namespace: string;
  /**
   * True: `services` is every Service of the namespace (a name that is not among them is
   * NXDOMAIN). False: the view cannot answer for this namespace; `reason` says why.
   */
  complete: boolean;
  services: DnsServiceRecord[];
  reason?: string;
}

/**
 * User daemon → root daemon: changes to the view. `reset` replaces the whole view (first push,
 * after a failed push, after the root daemon restarted); otherwise each listed namespace replaces
 * its previous entry and `removed` namespaces leave the view.
 */
export interface DnsRecordsUpdate {
  reset: boolean;
  namespaces: DnsNamespaceRecords[];
  removed?: string[];
  /** Why the view is partial or off: one line per reason (cluster-wide list forbidden, watch broken). */
  fallback?: string[];
}

export interface DnsViewStatus {
  /** `local`: every known namespace answered from the view; `mixed`: some; `cluster`: none. */
  path: 'local' | 'mixed' | 'cluster';
  /** Namespaces answered from the view, and how many Services it holds. */
  namespaces: number;
  services: number;
  /** Why names (of some namespaces) go to the cluster DNS instead. */
  fallback: string[];
  /** Counters since connect: answered from the view (positive / NXDOMAIN), handed to the cluster path. */
  stats: { answered: number; nxdomain: number; passed: number };
}

export interface RootDaemonContract {
  version: Method<Empty, DaemonVersion>;
  status: Method<Empty, RootDaemonStatus>;
  quit: Method<Empty, Empty>;
  /** Change the log level at run time (`telepresence loglevel`). */
  setLogLevel: Method<SetLogLevelRequest, Empty>;
  /** Create tel0, routes and redirect rules and start proxying into the tunnel. */
  connectNetwork: Method<NetworkConfig, NetworkStatus>;
  /** Remove everything connectNetwork installed (also done on quit and at start after a crash). */
  disconnectNetwork: Method<Empty, Empty>;
  networkStatus: Method<Empty, NetworkStatus | null>;
  /**
   * The full current namespace list (the user daemon's namespace watch), applied to the running
   * resolver at once; sent before connecting it becomes the initial list. Replaces the previous one.
   */
  setDnsNamespaces: Method<{ namespaces: DnsNamespace[] }, Empty>;
  /**
   * Changes to the user daemon's view of Services and EndpointSlices; cluster names it covers are
   * answered without asking the cluster. Kept across connects of the same session like namespaces.
   */
  setDnsRecords: Method<DnsRecordsUpdate, Empty>;
}
