// The traffic manager's side of `POST /dns` (contract in @tel/contracts dns.ts): takes a raw DNS
// query from the root daemon, asks the cluster DNS (the manager pod's own nameservers), returns
// the raw answer. Boundary: traffic manager ← root daemon, over the tunnel's HTTP/2 session.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { DNS_MESSAGE_CONTENT_TYPE, DNS_PATH, TUNNEL_ERROR_HEADER } from '@tel/contracts';
import { DnsTcpDeframer, MAX_DNS_MESSAGE, frameDnsTcp } from './tcp-framing.js';

export { DnsTcpDeframer, MAX_DNS_MESSAGE, frameDnsTcp } from './tcp-framing.js';

export interface Nameserver {
  ip: string;
  port: number;
}

export interface DnsHandlerOptions {
  /** Cluster DNS servers; default: the `nameserver` lines of /etc/resolv.conf (the pod's). */
  nameservers?: Nameserver[];
  /** Give up (502) after this long. Default 5000 ms. */
  timeoutMs?: number;
  /** Ask the next nameserver after this long without an answer. Default 1000 ms. */
  retryMs?: number;
  log?: { warn(msg: string, fields?: Record<string, unknown>): void };
}

const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;

/** Nameservers from resolv.conf text (`nameserver <ip>` lines), port 53; shared with the root daemon. */
export function nameserversFromResolvConf(text: string): Nameserver[] {
  return text
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((ip): ip is string => !!ip && net.isIP(ip) !== 0)
    .map((ip) => ({ ip, port: 53 }));
}

/**
 * A stream handler for the manager's HTTP/2 server. Returns false (and does nothing) for anything
 * but `POST /dns`, so it can sit first in the server's `stream` listener.
 */
export function createDnsHandler(opts: DnsHandlerOptions = {}): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean {
  const servers = opts.nameservers ?? nameserversFromResolvConf(readResolvConf());
  return (stream, headers) => {
    if (headers[':method'] !== 'POST' || headers[':path'] !== DNS_PATH) return false;
    stream.on('error', () => undefined);
    const fail = (status: number, message: string) => {
      if (stream.destroyed || stream.headersSent) return;
      stream.respond({ ':status': status, [TUNNEL_ERROR_HEADER]: message.replace(/[^\x20-\x7e]/g, '?') }, { endStream: true });
    };
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_DNS_MESSAGE) return fail(400, 'DNS message too large');
      chunks.push(c);
    });
    stream.on('end', () => {
      if (size > MAX_DNS_MESSAGE) return;
      const query = Buffer.concat(chunks);
      if (query.length < 12 || query.readUInt16BE(2) & FLAG_QR) return fail(400, 'body is not a DNS query');
      if (servers.length === 0) return fail(502, 'the manager has no nameserver in /etc/resolv.conf');
      forwardQuery(query, servers, { timeoutMs: opts.timeoutMs ?? 5_000, retryMs: opts.retryMs ?? 1_000 }).then(
        (answer) => {
          if (stream.destroyed) return;
          stream.respond({ ':status': 200, 'content-type': DNS_MESSAGE_CONTENT_TYPE });
          stream.end(answer);
        },
        (err: Error) => {
          opts.log?.warn('dns: cluster DNS did not answer', { err: err.message });
          fail(502, `cluster DNS: ${err.message}`);
        },
      );
    });
    return true;
  };
}

function readResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/**
 * Forward one raw query: UDP to the first server (the next one after `retryMs`), and over TCP to
 * the server that answered when its answer is truncated. The answer carries the query's own id.
 */
export function forwardQuery(query: Buffer, servers: Nameserver[], opts: { timeoutMs: number; retryMs: number }): Promise<Buffer> {
  const clientId = query.readUInt16BE(0);
  const id = randomInt(0, 0x10000);
  const out = Buffer.from(query);
  out.writeUInt16BE(id, 0);
  return new Promise<Buffer>((resolve, reject) => {
    const sock = dgram.createSocket(servers[0]!.ip.includes(':') ? 'udp6' : 'udp4');
    let idx = 0;
    let done = false;
    const finish = (err: Error | undefined, res?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(retry);
      sock.close();
      if (err) return reject(err);
      const b = Buffer.from(res!);
      b.writeUInt16BE(clientId, 0);
      resolve(b);
    };
    const send = () => {
      const s = servers[idx++ % servers.length]!;
      sock.send(out, s.port, s.ip, () => undefined);
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const retry = setInterval(send, opts.retryMs);
    sock.on('error', (e) => finish(e));
    sock.on('message', (m, rinfo) => {
      if (m.length < 12 || m.readUInt16BE(0) !== id || !(m.readUInt16BE(2) & FLAG_QR)) return;
      const from = servers.find((s) => s.ip === rinfo.address && s.port === rinfo.port);
      if (!from) return;
      if (!(m.readUInt16BE(2) & FLAG_TC)) return finish(undefined, m);
      dnsTcpExchange(from, out, AbortSignal.timeout(opts.timeoutMs)).then(
        (r) => finish(undefined, r),
        (e: Error) => finish(e),
      );
    });
    send();
  });
}

/**
 * One DNS query over a fresh TCP connection (2-byte length framing), ended by the first answer, an
 * error, the server closing, or `signal`. `connect` lets a caller dial its own way (the root
 * daemon's override mode marks its sockets so its own redirect lets them pass).
 */
export function dnsTcpExchange(server: Nameserver, query: Buffer, signal: AbortSignal, connect?: (host: string, port: number) => net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let sock: net.Socket;
    try {
      sock = connect ? connect(server.ip, server.port) : net.connect({ host: server.ip, port: server.port });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const deframer = new DnsTcpDeframer();
    let done = false;
    const finish = (err: Error | undefined, res?: Buffer) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(res as Buffer);
    };
    const onAbort = () => finish(new Error(signal.reason instanceof Error && signal.reason.name === 'TimeoutError' ? 'TCP query timed out' : 'DNS lookup aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    sock.on('error', (e) => finish(e));
    sock.on('connect', () => sock.write(frameDnsTcp(query)));
    sock.on('data', (chunk: Buffer) => deframer.push(chunk, (res) => finish(undefined, res)));
    sock.on('end', () => finish(new Error('the server closed the connection without an answer')));
    sock.on('close', () => finish(new Error('the server closed the connection without an answer')));
  });
}
