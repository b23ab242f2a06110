// Boundary: client (user daemon) → traffic manager, reached through the Kubernetes port-forward.
// CLUSTER-FACING: must stay backward compatible; add optional fields, never change meanings.

/** `GET /version` on the manager (and agent) API port. */
export interface ManagerVersion {
  /** "Traffic Manager" or "Traffic Agent". */
  name: string;
  version: string;
  apiVersion: number;
  /** Set by managers that serve the TCP stream tunnel (MANAGER_TCP_PORT); older ones omit it. */
  tcpStreamPort?: number;
}

/** Port the manager's API listens on inside its pod. */
export const MANAGER_API_PORT = 8081;
/**
 * Port of the manager's TCP stream tunnel (see @tel/tcp-wire): one port-forward stream per
 * workstation TCP connection, which the Kubernetes API multiplexes on one SPDY connection.
 * Protocol, per connection:
 * 1. client → manager: the line `TEL-TCP/1 <ip> <port>\n` (IPv4 or IPv6 literal, at most 128 bytes);
 * 2. manager → client: `OK\n` once the destination is dialled, or `ERR <reason>\n` then close;
 *    `OK` may wait (the manager waits up to 25 ms) to leave together with the destination's first
 *    frame, so clients must not need it before sending: they send frames right after their line;
 * 3. then both directions carry frames: 4-byte big-endian length N, then N bytes; N = 0 is that
 *    direction's end (TCP half-close). The client may send frames right after its line.
 * The connection is closed once both directions have ended; a close before that is an abort
 * (reset). Half-close is framed rather than signalled by closing because the container
 * runtime's port-forward ends both directions about a second after either one ends.
 */
export const MANAGER_TCP_PORT = 8083;
/** Port the agent's API listens on inside the intercepted pod. */
export const AGENT_API_PORT = 9900;

/**
 * Tunnel protocol (HTTP/2 cleartext to MANAGER_API_PORT, one connection, many streams):
 * - TCP: an HTTP/2 CONNECT stream (`:method: CONNECT`, `:authority: <ip>:<port>`) per connection;
 *   the manager dials the destination inside the cluster, answers `:status 200` and then copies
 *   bytes both ways; 502 with an `x-tel-error` header when the dial fails.
 * - UDP: `POST /udp` with header `x-tel-destination: <ip>:<port>` per flow; each datagram is framed
 *   as a 2-byte big-endian length + payload in both directions; idle flows end after 60 s.
 * - `GET /version` → ManagerVersion; `GET /cluster-info` → ClusterInfo.
 */
export const TUNNEL_UDP_PATH = '/udp';
export const TUNNEL_DESTINATION_HEADER = 'x-tel-destination';
export const TUNNEL_ERROR_HEADER = 'x-tel-error';

/** What the manager knows of the cluster's networks, for the root daemon's routes. */
export interface ClusterInfo {
  /** Pod CIDRs (from nodes' spec.podCIDRs). */
  podSubnets: string[];
  /** The service CIDR(s) (probed from the API server). */
  serviceSubnets: string[];
  /** ClusterIP of kube-dns / CoreDNS, when found. */
  dnsIp?: string;
  /** Cluster domain, e.g. "cluster.local". */
  clusterDomain: string;
}
