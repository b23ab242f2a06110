// Parsing of tunnel destinations (`ip:port`, `[ipv6]:port`) sent by clients in the
// authorities and the x-tel-destination header. Only IP literals: names are resolved client-side.
import { isIP } from 'node:net';

export interface Destination {
  host: string;
  port: number;
  family: 4 | 6;
}

/** Parses `1.2.3.4:80` or `[fd00::1]:53`; undefined for anything else (names, bad ports). */
export function parseDestination(s: string | undefined): Destination | undefined {
  if (!s) return undefined;
  let host: string;
  let portStr: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') return undefined;
    host = s.slice(1, close);
    portStr = s.slice(close + 2);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) return undefined;
    host = s.slice(0, colon);
    portStr = s.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portStr)) return undefined;
  const port = Number(portStr);
  const family = isIP(host);
  if (port < 1 || port > 65535 || (family !== 4 && family !== 6)) return undefined;
  return { host, port, family };
}

/** A header-safe one-line form of an error (HTTP/2 header values cannot carry newlines). */
export function headerSafe(msg: string): string {
  return msg.replace(/[\r\n\0]+/g, ' ').slice(0, 512);
}
