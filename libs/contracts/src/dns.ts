// Cluster DNS on the workstation. Two boundaries meet here:
// - root daemon → traffic manager: `POST /dns` on the tunnel (CLUSTER-FACING: stays backward compatible);
// - user daemon → root daemon: DnsConfig / DnsStatus (local: ships together, need not stay compatible).

/**
 * `POST /dns` on the manager's API port, over the same HTTP/2 session as the tunnel.
 * - request: `content-type: application/dns-message`, body = one DNS query in wire format (RFC 1035)
 *   whose single question is already a fully qualified cluster name (`svc.ns.svc.cluster.local`);
 * - 200: body = the cluster DNS server's response in wire format, whatever its rcode (NXDOMAIN is
 *   an answer, not an error);
 * - 400: the body is not a DNS query; 502 + `x-tel-error`: the cluster DNS did not answer in time.
 * The manager forwards the query unchanged to the nameservers of its own pod (the cluster DNS),
 * over UDP and, when the answer is truncated, again over TCP.
 */
export const DNS_PATH = '/dns';
export const DNS_MESSAGE_CONTENT_TYPE = 'application/dns-message';

/** How the workstation's resolver is hooked into the system. */
export type DnsMode =
  /** Linux: per-link DNS server and routing domains on tel0 through systemd-resolved's DBus API. */
  | 'resolved'
  /** Linux without systemd-resolved: nftables redirects the system nameserver's address to us. */
  | 'override'
  /** macOS: one file per mapped domain under /etc/resolver. */
  | 'resolver-files'
  /** Our resolver runs but nothing points the system at it (tests, or DNS disabled). */
  | 'none';

/** Part of NetworkConfig that drives DNS (sent by the user daemon at connect). */
export interface DnsConfig {
  /** Namespace that single-label names resolve in (the connected namespace), e.g. "default". */
  connectedNamespace: string;
  /** Cluster domain, e.g. "cluster.local" (ClusterInfo.clusterDomain). */
  clusterDomain: string;
  /** Names ending with one of these always go to the cluster, as they are (no mapping). Wins over excludes. */
  includeSuffixes?: string[];
  /** Names ending with one of these never go to the cluster; they are resolved by the upstream nameserver. */
  excludeSuffixes?: string[];
  /** A lookup that got no answer within this many milliseconds is answered SERVFAIL. Default 8000. */
  lookupTimeoutMs?: number;
  /** Force a mode instead of detecting it (resolved when its DBus API answers, else override). */
  mode?: DnsMode;
}

/** A namespace as the DNS layer needs it; `services` is only needed for public-suffix names. */
export interface DnsNamespace {
  name: string;
  /**
   * Service names in this namespace. Required for a namespace whose name is an ICANN public suffix
   * (`rs`, `dev`, `com`): only `<service>.<ns>` is routed to the cluster then, never the whole TLD.
   */
  services?: string[];
}

/** Why a namespace gets no `~<ns>` routing domain. */
export type DnsLeftOutReason =
  /** The name is an ICANN public suffix; routed per service (`~svc.ns`) instead, if services are known. */
  | 'public-suffix'
  /** Not a valid DNS label (longer than 63 characters or odd characters). */
  | 'invalid-label'
  /** Matches an exclude suffix: names in it are resolved upstream. */
  | 'excluded';

/** How programs on the workstation resolve names, as the root daemon found it (never changed). */
export interface SystemResolverView {
  /** What /etc/resolv.conf is: a file or a symlink and its target, the nameservers it names. */
  resolvConf: string;
  /** nsswitch.conf's `hosts:` sources, e.g. "files resolve [!UNAVAIL=return] dns". */
  nsswitchHosts: string;
}

export interface DnsStatus {
  mode: DnsMode;
  /** Why this mode: configured, or what was found on the machine. */
  modeReason?: string;
  /** Linux: the system resolver configuration the mode was chosen from. */
  systemResolver?: SystemResolverView;
  /** Where our resolver listens, "ip:port". */
  server: string;
  /** Nameservers non-cluster names are forwarded to, "ip:port". */
  upstream: string[];
  /** Routing domains given to the system resolver (`~cluster.local`, `~default`, `~my-svc.rs`...). */
  routingDomains: string[];
  /** Search domains (the connected namespace). */
  searchDomains: string[];
  /** Namespaces the cluster names are mapped for. */
  namespaces: string[];
  /** Namespaces without a routing domain of their own, and why. */
  leftOut: { namespace: string; reason: DnsLeftOutReason; detail: string }[];
  includeSuffixes: string[];
  excludeSuffixes: string[];
  lookupTimeoutMs: number;
  /** Counters since start. */
  stats: { queries: number; cluster: number; upstream: number; cacheHits: number; servfail: number; formerr: number };
}

/**
 * User daemon → root daemon, whenever its namespace watch sees a namespace created or deleted
 * (and when a public-suffix namespace's services change): the full current list. Applied within
 * milliseconds; the bound is 2 s. Intended as `RootDaemonContract.setDnsNamespaces`.
 */
export interface DnsNamespacesUpdate {
  namespaces: DnsNamespace[];
}
