// How the root daemon's resolver reaches the cluster, against real HTTP/2 servers on a unix socket:
// the manager's POST /dns on the tunnel's HTTP/2 session.
import http2 from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DNS_PATH, TUNNEL_DESTINATION_HEADER, TUNNEL_ERROR_HEADER, TUNNEL_UDP_PATH } from '@tel/contracts';
import { createLogger } from '@tel/logging';
import { Http2Dialer } from '../tunnel/http2-dialer.js';
import { U16Deframer as Deframer, frameU16 as frame } from '@tel/tcp-wire';
import { checkNamespaces, clusterExchange } from './session.js';

const log = createLogger(undefined);
let dir: string;

/** Answer = the query with QR set and a marker appended, so the test sees which path answered. */
const answer = (q: Buffer, via: string) => {
  const r = Buffer.concat([q, Buffer.from(via)]);
  r.writeUInt16BE(q.readUInt16BE(2) | 0x8000, 2);
  return r;
};

async function manager(socketPath: string, supportsDns: boolean) {
  const udpFlows: string[] = [];
  const dnsPosts: number[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const path = headers[':path'];
    if (headers[':method'] === 'POST' && path === DNS_PATH && supportsDns) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        dnsPosts.push(1);
        stream.respond({ ':status': 200, 'content-type': 'application/dns-message' });
        stream.end(answer(Buffer.concat(chunks), 'dns'));
      });
      return;
    }
    if (headers[':method'] === 'POST' && path === TUNNEL_UDP_PATH) {
      udpFlows.push(String(headers[TUNNEL_DESTINATION_HEADER]));
      stream.respond({ ':status': 200 });
      const d = new Deframer();
      stream.on('data', (c: Buffer) => d.push(c, (p) => stream.write(frame(answer(p, 'udp')))));
      stream.on('end', () => stream.end());
      return;
    }
    // What the manager before POST /dns answers: 405 with a reason.
    stream.respond({ ':status': 405, [TUNNEL_ERROR_HEADER]: `${headers[':method']} ${path} is not supported` }, { endStream: true });
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  return { udpFlows, dnsPosts, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** id 0x2222, one question demo.default.svc.cluster.local A. */
const query = () => {
  const name = Buffer.concat(['demo', 'default', 'svc', 'cluster', 'local'].map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])));
  return Buffer.concat([Buffer.from([0x22, 0x22, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 0, 0, 1, 0, 1])]);
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tel-dnsx-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('clusterExchange', () => {
  it('uses POST /dns on the tunnel session of a current manager', async () => {
    const sock = join(dir, 'new.socket');
    const m = await manager(sock, true);
    const dialer = new Http2Dialer({ socketPath: sock, log });
    try {
      const ex = clusterExchange(dialer);
      const res = await ex(query(), AbortSignal.timeout(5_000));
      expect(res.subarray(-3).toString()).toBe('dns');
      expect(res.readUInt16BE(0)).toBe(0x2222);
      expect(m.udpFlows).toEqual([]);
    } finally {
      dialer.close();
      await m.close();
    }
  });
});

describe('checkNamespaces', () => {
  it('accepts {name, services?} lists and refuses anything else', () => {
    expect(checkNamespaces([{ name: 'default' }, { name: 'rs', services: ['my-svc'] }])).toHaveLength(2);
    expect(checkNamespaces([])).toEqual([]);
    for (const bad of [undefined, {}, [{}], [{ name: 1 }], [{ name: 'rs', services: 'x' }], [{ name: 'rs', services: [1] }]]) {
      expect(() => checkNamespaces(bad)).toThrow(/setDnsNamespaces needs/);
    }
  });
});
