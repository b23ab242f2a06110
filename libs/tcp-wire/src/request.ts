// The request line of the TCP stream tunnel (contract: MANAGER_TCP_PORT in @tel/contracts
// manager/tunnel.ts): `TEL-TCP/1 <ip> <port>\n`, IP literals only (names are resolved client-side).
import { isIP } from 'node:net';

export const TCP_REQUEST_PREFIX = 'TEL-TCP/1';
/** Longest request line, newline included. */
export const MAX_REQUEST_LINE = 128;
/** Largest frame payload; a bigger length is a protocol error (the connection is aborted). */
export const MAX_FRAME = 1 << 20;

export interface TcpRequest {
  host: string;
  port: number;
  family: 4 | 6;
}

const PORT = /^[1-9][0-9]{0,4}$/;

/** `TEL-TCP/1 <ip> <port>\n`; throws on anything the manager would refuse. */
export function encodeRequest(ip: string, port: number): Buffer {
  if (!isIP(ip)) throw new Error(`tcp-wire: ${JSON.stringify(ip)} is not an IP literal`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`tcp-wire: bad port ${port}`);
  const line = `${TCP_REQUEST_PREFIX} ${ip} ${port}\n`;
  const buf = Buffer.from(line, 'latin1');
  if (buf.length > MAX_REQUEST_LINE) throw new Error(`tcp-wire: request line longer than ${MAX_REQUEST_LINE} bytes`);
  return buf;
}

/**
 * Parses a request line (without its newline, as readLine returns it; one trailing `\n` is
 * tolerated). Strict: the exact prefix, single spaces, an IP literal (no brackets), a decimal
 * port 1..65535 without leading zeros.
 */
export function parseRequest(line: string): TcpRequest | { error: string } {
  const text = line.endsWith('\n') ? line.slice(0, -1) : line;
  const parts = text.split(' ');
  if (parts.length !== 3 || parts[0] !== TCP_REQUEST_PREFIX) {
    return { error: `request line must be "${TCP_REQUEST_PREFIX} <ip> <port>", got ${JSON.stringify(text.slice(0, MAX_REQUEST_LINE))}` };
  }
  const host = parts[1]!;
  const portStr = parts[2]!;
  const family = isIP(host);
  if (family !== 4 && family !== 6) return { error: `not an IP literal: ${JSON.stringify(host.slice(0, 64))}` };
  if (!PORT.test(portStr) || Number(portStr) > 65535) return { error: `bad port ${JSON.stringify(portStr.slice(0, 16))}` };
  return { host, port: Number(portStr), family };
}
