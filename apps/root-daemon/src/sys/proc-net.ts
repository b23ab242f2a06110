// Who owns a loopback TCP listener, from /proc/net/tcp (this network namespace's table): the root
// daemon points its REDIRECT rule at the user daemon's listener only when the session's user owns
// it, so a port some other local user grabbed never receives the workstation's cluster traffic.
import { readFileSync } from 'node:fs';

const LISTEN = '0A';

/**
 * uids owning the sockets listening on 127.0.0.1:`port` or 0.0.0.0:`port` (both receive a
 * connection redirected to the port) in a /proc/net/tcp text; empty when nothing listens there.
 */
export function listenerUids(procNetTcp: string, port: number): number[] {
  const uids: number[] = [];
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  // Addresses are the raw in_addr in host byte order (little-endian here): 127.0.0.1 = 0100007F.
  const wanted = new Set([`0100007F:${portHex}`, `00000000:${portHex}`]);
  for (const line of procNetTcp.split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[3] !== LISTEN || !wanted.has(f[1]!)) continue;
    const uid = Number(f[7]);
    if (Number.isInteger(uid)) uids.push(uid);
  }
  return uids;
}

/** Throws unless every listener on loopback `port` belongs to `ownerUid` (see listenerUids). */
export function checkListenerOwner(port: number, ownerUid: number, read: () => string = () => readFileSync('/proc/net/tcp', 'utf8')): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`tcpListenerPort ${JSON.stringify(port)} is not a TCP port`);
  const uids = listenerUids(read(), port);
  if (uids.length === 0) throw new Error(`nothing listens on 127.0.0.1:${port}`);
  const uid = uids.find((u) => u !== ownerUid);
  if (uid !== undefined) throw new Error(`127.0.0.1:${port} is listened on by uid ${uid}, not by the session's user (uid ${ownerUid})`);
}
