// How the workstation resolver asks the cluster: a ClusterResolver takes one fully qualified
// cluster name and returns the cluster DNS's answer. Production: the manager's `POST /dns` over the
// tunnel's HTTP/2 session.
import http2, { type ClientHttp2Session } from 'node:http2';
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { Answer, Question } from 'dns-packet';
import { DNS_MESSAGE_CONTENT_TYPE, DNS_PATH, TUNNEL_ERROR_HEADER } from '@tel/contracts';
import { dnsTcpExchange } from '@tel/dns-wire';
import type { NameserverAddress } from './upstream.js';
import { encodeQuery, FLAG_TC, rcodeNumber, tryDecode } from './wire.js';

export interface ClusterAnswer {
  /** Numeric rcode (0 NOERROR, 3 NXDOMAIN ...). NXDOMAIN is an answer, not an error. */
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
}

export interface ClusterResolver {
  /** Resolve one question (an FQDN in the cluster). Rejects when the cluster could not be asked. */
  resolve(question: Question, signal: AbortSignal): Promise<ClusterAnswer>;
}

/** Sends a raw DNS query somewhere in the cluster and returns the raw response. */
export type RawExchange = (query: Buffer, signal: AbortSignal) => Promise<Buffer>;

/** A ClusterResolver over any raw exchange: encodes the question, checks and decodes the answer. */
export function rawClusterResolver(exchange: RawExchange): ClusterResolver {
  return {
    async resolve(question, signal) {
      const id = randomInt(0, 0x10000);
      const res = await exchange(encodeQuery(question, id), signal);
      const p = tryDecode(res);
      if (!p || p.id !== id || p.type !== 'response') throw new Error('malformed answer from the cluster DNS');
      const q = p.questions?.[0];
      if (!q || q.name.toLowerCase() !== question.name.toLowerCase() || q.type !== question.type) throw new Error('cluster DNS answered another question');
      return { rcode: rcodeNumber((p as { rcode?: string }).rcode), answers: (p.answers ?? []).filter((a) => a.type !== 'OPT'), authorities: p.authorities ?? [] };
    },
  };
}

/**
 * Production: `POST /dns` (contract in @tel/contracts dns.ts) on the tunnel's HTTP/2 session.
 * `session()` returns the live session, or a promise of it (the dialer reconnects; we never cache it).
 */
export function managerDnsExchange(session: () => ClientHttp2Session | Promise<ClientHttp2Session>): RawExchange {
  return async (query, signal) => {
    const s = await session();
    return new Promise<Buffer>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = s.request({ ':method': 'POST', ':path': DNS_PATH, 'content-type': DNS_MESSAGE_CONTENT_TYPE, accept: DNS_MESSAGE_CONTENT_TYPE }, { signal });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      const chunks: Buffer[] = [];
      let status = 0;
      let why = '';
      stream.on('response', (h) => {
        status = Number(h[':status']);
        const e = h[TUNNEL_ERROR_HEADER];
        why = typeof e === 'string' ? e : '';
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (e) => reject(e));
      stream.on('end', () => {
        if (status === 200) resolve(Buffer.concat(chunks));
        else reject(new Error(`manager ${DNS_PATH}: ${why || `status ${status}`}`));
      });
      stream.end(query);
    });
  };
}

/** Plain UDP (TCP when truncated) to a reachable DNS server: tests, benchmarks, in-cluster use. */
export function directExchange(server: NameserverAddress): RawExchange {
  return (query, signal) =>
    new Promise<Buffer>((resolve, reject) => {
      const s = dgram.createSocket(server.ip.includes(':') ? 'udp6' : 'udp4');
      const finish = (err: Error | undefined, res?: Buffer) => {
        signal.removeEventListener('abort', onAbort);
        s.close();
        if (err) reject(err);
        else resolve(res as Buffer);
      };
      const onAbort = () => finish(new Error('lookup aborted'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort);
      s.on('error', (e) => finish(e));
      s.on('message', (m) => {
        if (m.length < 12 || m.readUInt16BE(0) !== query.readUInt16BE(0)) return;
        if (m.readUInt16BE(2) & FLAG_TC) {
          signal.removeEventListener('abort', onAbort);
          s.close();
          dnsTcpExchange(server, query, signal).then(resolve, reject);
          return;
        }
        finish(undefined, m);
      });
      s.send(query, server.port, server.ip);
    });
}
