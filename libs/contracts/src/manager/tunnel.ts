// Topic: the tunnel. Its routes are raw (bytes, not JSON): the TCP stream tunnel on its own port,
// UDP flows and DNS messages on the API port. Named here so the manager's route table and the
// clients refer to one definition.

/** Port the manager's API (contract methods and raw routes) listens on, on the pod's loopback. */
export const MANAGER_API_PORT = 8081;
/**
 * Port of the manager's TCP stream tunnel (see @tel/tcp-wire), on the pod's loopback: one
 * port-forward stream per workstation TCP connection, which the Kubernetes API multiplexes on one
 * SPDY connection. Protocol, per connection:
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
/**
 * Reverse verbs on MANAGER_TCP_PORT, for intercepts. A user daemon with intercepts parks idle
 * connections: `TEL-PARK/1 <sessionId> <generation>\n`; the manager answers nothing until an intercepted
 * connection arrives, then writes `TEL-DIAL/1 <interceptId> <srcIp> <srcPort>\n` and relays the
 * agent's connection as is: from there the user daemon is the server side of the protocol above
 * (dials 127.0.0.1:<the intercept's local port>, answers `OK\n` or `ERR <reason>\n`, framed data).
 * A park for a session the manager does not know is answered `ERR unknown session` and closed.
 * Any byte from the daemon before a dial line withdraws the park (the port-forward does not pass a
 * bare close on to the manager); the manager also drops a session's parks when it has no intercepts.
 * Each parked connection carries one intercepted connection; the daemon parks a new one when one
 * is taken. `generation` (a decimal counter) is the daemon's port-forward connection: when that
 * connection is lost its parks die without a byte reaching the manager, so a park of a newer
 * generation makes the manager close the session's idle parks of older ones (capability
 * `park-generations`), and the manager hands out the newest park first.
 */
export const TUNNEL_PARK_PREFIX = 'TEL-PARK/1';

/** The whole park line, `TEL-PARK/1 <sessionId> <generation>\n`. */
export function formatPark(sessionId: string, generation: number): string {
  return `${TUNNEL_PARK_PREFIX} ${sessionId} ${generation}\n`;
}

/** Reads what follows `TEL-PARK/1 ` (without the newline); a string is what is wrong with it. */
export function parsePark(rest: string): { sessionId: string; generation: number } | string {
  const m = /^(\S{1,128}) (\d{1,15})$/.exec(rest);
  return m ? { sessionId: m[1]!, generation: Number(m[2]) } : `park line must be "${TUNNEL_PARK_PREFIX} <sessionId> <generation>"`;
}
export const TUNNEL_DIAL_PREFIX = 'TEL-DIAL/1';
/**
 * Port for traffic agents' control calls (agent.ts AgentContract, HTTP/2 cleartext), on the pod
 * network (agents cannot use a port-forward). Every call carries the agent's projected
 * service-account token (agent.ts AGENT_TOKEN_AUDIENCE), which the manager checks with a
 * TokenReview before serving anything.
 */
export const MANAGER_AGENT_PORT = 8084;
/** Port for agents' intercepted connections (agent.ts AGENT_TUNNEL_PREFIX), on the pod network. */
export const MANAGER_AGENT_TUNNEL_PORT = 8085;
/** HTTPS port of the manager's mutating admission webhook (the Service maps 443 to it). */
export const MANAGER_WEBHOOK_PORT = 8443;
/**
 * HTTP/1.1 health port on the pod network, for the kubelet's readiness probe (the API port speaks
 * h2c only and listens on loopback).
 */
export const MANAGER_HEALTH_PORT = 8082;
/** Port the agent's API listens on inside the intercepted pod. */
export const AGENT_API_PORT = 9900;

/**
 * UDP: `POST /udp` with header `x-tel-destination: <ip>:<port>` per flow; each datagram is framed
 * as a 2-byte big-endian length + payload in both directions; idle flows end after 60 s. A flow the
 * manager refuses is answered with a non-200 status and an `x-tel-error` header saying why.
 */
export const TUNNEL_UDP_PATH = '/udp';
export const TUNNEL_DESTINATION_HEADER = 'x-tel-destination';
export const TUNNEL_ERROR_HEADER = 'x-tel-error';
