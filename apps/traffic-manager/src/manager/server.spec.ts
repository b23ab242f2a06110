import dgram from 'node:dgram';
import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGER_CAPABILITIES, TUNNEL_DESTINATION_HEADER, TUNNEL_ERROR_HEADER } from '@tel/contracts';
import { createLogger } from '@tel/logging';
import { FakeInstaller } from './testing/fake-installer.js';
import { startManagerServer, type ManagerServer } from './server.js';
import { U16Deframer as FrameDecoder, frameU16 as encodeFrame } from '@tel/tcp-wire';

const log = createLogger('manager', { level: 'error', stream: process.stdout });
let manager: ManagerServer;
let echo: net.Server;
let echoPort: number;
let udpEcho: dgram.Socket;
let udpPort: number;
let client: http2.ClientHttp2Session;
/** Stands in for the cluster DNS: answers every query with QR set and "cluster" appended. */
let clusterDns: dgram.Socket;

beforeAll(async () => {
  // An echo server that half-closes only after its peer did: proves FIN travels both ways.
  echo = net.createServer({ allowHalfOpen: true }, (s) => {
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as net.AddressInfo).port;
  udpEcho = dgram.createSocket('udp4');
  udpEcho.on('message', (m, rinfo) => udpEcho.send(Buffer.concat([Buffer.from('echo:'), m]), rinfo.port, rinfo.address));
  await new Promise<void>((r) => udpEcho.bind(0, '127.0.0.1', r));
  udpPort = udpEcho.address().port;
  clusterDns = dgram.createSocket('udp4');
  clusterDns.on('message', (m, rinfo) => {
    const r = Buffer.concat([m, Buffer.from('cluster')]);
    r.writeUInt16BE(m.readUInt16BE(2) | 0x8000, 2);
    clusterDns.send(r, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => clusterDns.bind(0, '127.0.0.1', r));
  manager = await startManagerServer({
    port: 0,
    host: '127.0.0.1',
    version: { name: 'Traffic Manager', version: 'v9.9.9', apiVersion: 1 },
    clusterInfo: async () => ({ podSubnets: ['10.1.0.0/16'], serviceSubnets: ['10.96.0.0/12'], clusterDomain: 'cluster.local' }),
    log,
    udpIdleMs: 300,
    installer: new FakeInstaller(),
    dnsNameservers: [{ ip: '127.0.0.1', port: clusterDns.address().port }],
  });
  client = http2.connect(`http://127.0.0.1:${manager.port}`, { settings: { initialWindowSize: 256 << 10 } });
  client.on('connect', () => client.setLocalWindowSize(32 << 20));
});

afterAll(async () => {
  client?.close();
  await manager?.close();
  echo?.close();
  udpEcho?.close();
  clusterDns?.close();
});

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = client.request({ ':path': path });
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
  });
}

describe('manager API', () => {
  it('POST /dns forwards the query to the cluster DNS and returns its answer (dns-wire mounted)', async () => {
    // id 0x1234, RD, one question: demo.default.svc.cluster.local A IN
    const name = Buffer.concat(['demo', 'default', 'svc', 'cluster', 'local'].map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])));
    const query = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 0, 0, 1, 0, 1])]);
    const res = await new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
      const s = client.request({ ':method': 'POST', ':path': '/dns', 'content-type': 'application/dns-message' });
      const chunks: Buffer[] = [];
      let status = 0;
      let type = '';
      s.on('response', (h) => {
        status = Number(h[':status']);
        type = String(h['content-type']);
      });
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => resolve({ status, type, body: Buffer.concat(chunks) }));
      s.on('error', reject);
      s.end(query);
    });
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/dns-message');
    expect(res.body.readUInt16BE(0)).toBe(0x1234);
    expect(res.body.readUInt16BE(2) & 0x8000).toBe(0x8000);
    expect(res.body.subarray(-7).toString()).toBe('cluster');
  });

  it('GET /version (with the capability list) and /cluster-info', async () => {
    expect(JSON.parse((await get('/version')).body)).toEqual({ name: 'Traffic Manager', version: 'v9.9.9', apiVersion: 1, capabilities: [...MANAGER_CAPABILITIES] });
    expect(JSON.parse((await get('/cluster-info')).body)).toMatchObject({ podSubnets: ['10.1.0.0/16'] });
    const nope = await get('/nope');
    expect(nope.status).toBe(404);
    expect(JSON.parse(nope.body)).toMatchObject({ error: { code: 'no-such-route', message: 'no such manager route GET /nope' } });
  });

  it('CONNECT is not served (TCP has its own port)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const stream = client.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${echoPort}` });
      stream.on('response', (h) => resolve(Number(h[':status'])));
      stream.on('error', reject);
    });
    expect(status).toBe(404);
  });

  it('POST /udp relays length-framed datagrams and ends idle flows', async () => {
    const stream = client.request({ ':method': 'POST', ':path': '/udp', [TUNNEL_DESTINATION_HEADER]: `127.0.0.1:${udpPort}` });
    const got: string[] = [];
    const dec = new FrameDecoder();
    stream.on('data', (c: Buffer) => dec.push(c, (d) => got.push(d.toString())));
    const ended = new Promise<void>((r) => stream.on('end', () => r()));
    // Two frames in one write and one frame split across writes.
    stream.write(Buffer.concat([encodeFrame(Buffer.from('a')), encodeFrame(Buffer.from('bb'))]));
    const third = encodeFrame(Buffer.from('ccc'));
    stream.write(third.subarray(0, 3));
    await new Promise((r) => setTimeout(r, 20));
    stream.write(third.subarray(3));
    await ended; // idle timeout (300 ms here, 60 s by default) ends the flow
    expect(got).toEqual(['echo:a', 'echo:bb', 'echo:ccc']);
    stream.close();
  });
});

describe('FrameDecoder', () => {
  it('handles byte-at-a-time input', () => {
    const bytes = Buffer.concat([encodeFrame(Buffer.from('xyz')), encodeFrame(Buffer.alloc(0)), encodeFrame(Buffer.from('q'))]);
    const dec = new FrameDecoder();
    const out: string[] = [];
    for (const b of bytes) dec.push(Buffer.from([b]), (d) => out.push(d.toString()));
    expect(out).toEqual(['xyz', '', 'q']);
    expect(dec.buffered).toBe(0);
  });
  it('refuses datagrams over 65535 bytes', () => {
    expect(() => encodeFrame(Buffer.alloc(70_000))).toThrow(/does not fit a 2-byte length/);
  });
});
