// POST /dns handler on a real HTTP/2 server, forwarding to a real UDP/TCP responder on loopback.
import dgram from 'node:dgram';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DNS_PATH, TUNNEL_ERROR_HEADER } from '@tel/contracts';
import { createDnsHandler, nameserversFromResolvConf } from './index.js';

function queryFor(name: string, id = 0x4242): Buffer {
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  return Buffer.concat([Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}
const qname = (m: Buffer) => {
  const parts: string[] = [];
  for (let o = 12; m[o]; o += 1 + m[o]!) parts.push(m.subarray(o + 1, o + 1 + m[o]!).toString());
  return parts.join('.');
};
/** Answer: same message with QR set; "big.*" is truncated over UDP; "silent.*" gets nothing. */
const respond = (m: Buffer, overUdp: boolean): Buffer | undefined => {
  const name = qname(m);
  if (name.startsWith('silent.')) return undefined;
  const r = Buffer.from(m);
  r.writeUInt16BE(0x8180 | (name.startsWith('big.') && overUdp ? 0x0200 : 0) | (name.startsWith('nx.') ? 3 : 0), 2);
  return Buffer.concat([r, Buffer.from(overUdp ? 'udp' : 'tcp')]);
};

let udp: dgram.Socket;
let tcp: net.Server;
let server: http2.Http2Server;
let client: http2.ClientHttp2Session;
let tcpQueries = 0;

beforeAll(async () => {
  // UDP and TCP on one port: retry when the kernel's UDP pick is taken for TCP.
  let port = 0;
  for (let attempt = 0; attempt < 10 && !port; attempt++) {
    udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const p = udp.address().port;
    const probe = net.createServer();
    const ok = await new Promise<boolean>((r) => {
      probe.once('error', () => r(false));
      probe.listen(p, '127.0.0.1', () => r(true));
    });
    if (ok) await new Promise((r) => probe.close(r));
    if (ok) port = p;
    else udp.close();
  }
  udp.on('message', (m, r) => {
    const res = respond(m, true);
    if (res) udp.send(res, r.port, r.address);
  });
  tcp = net.createServer((s) => {
    s.once('data', (c: Buffer) => {
      tcpQueries++;
      const res = respond(c.subarray(2), false)!;
      const h = Buffer.alloc(2);
      h.writeUInt16BE(res.length);
      s.end(Buffer.concat([h, res]));
    });
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', r));
  const dns = createDnsHandler({ nameservers: [{ ip: '127.0.0.1', port }], timeoutMs: 500 });
  server = http2.createServer();
  server.on('stream', (stream, headers) => {
    if (dns(stream, headers)) return;
    stream.respond({ ':status': 404 }, { endStream: true });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterAll(async () => {
  client?.close();
  await new Promise((r) => server?.close(r));
  udp?.close();
  await new Promise((r) => tcp?.close(r));
});

function post(body: Buffer, path = DNS_PATH): Promise<{ status: number; body: Buffer; error?: string }> {
  return new Promise((resolve, reject) => {
    const s = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/dns-message' });
    const chunks: Buffer[] = [];
    let status = 0;
    let error: string | undefined;
    s.on('response', (h) => {
      status = Number(h[':status']);
      error = h[TUNNEL_ERROR_HEADER] as string | undefined;
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve({ status, body: Buffer.concat(chunks), error }));
    s.on('error', reject);
    s.end(body);
  });
}

describe('POST /dns', () => {
  it('returns the cluster DNS answer with the query id, NXDOMAIN included', async () => {
    const r = await post(queryFor('my-svc.default.svc.cluster.local', 0x1234));
    expect(r.status).toBe(200);
    expect(r.body.readUInt16BE(0)).toBe(0x1234);
    expect(qname(r.body)).toBe('my-svc.default.svc.cluster.local');
    const nx = await post(queryFor('nx.default.svc.cluster.local'));
    expect(nx.status).toBe(200);
    expect(nx.body.readUInt16BE(2) & 0xf).toBe(3);
  });

  it('retries over TCP when the UDP answer is truncated', async () => {
    const before = tcpQueries;
    const r = await post(queryFor('big.default.svc.cluster.local'));
    expect(r.status).toBe(200);
    expect(r.body.subarray(-3).toString()).toBe('tcp');
    expect(tcpQueries).toBe(before + 1);
  });

  it('400 for a non-query, 502 when the cluster DNS is silent, other paths untouched', async () => {
    expect((await post(Buffer.from('hello'))).status).toBe(400);
    const silent = await post(queryFor('silent.default.svc.cluster.local'));
    expect(silent.status).toBe(502);
    expect(silent.error).toMatch(/cluster DNS/);
    expect((await post(queryFor('x.y'), '/other')).status).toBe(404);
  });

  it('reads nameservers from resolv.conf text', () => {
    expect(nameserversFromResolvConf('search default.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n')).toEqual([{ ip: '10.96.0.10', port: 53 }]);
  });
});
