// The TCP stream tunnel server over real loopback sockets: a raw framed client on one side, real
// destination servers on the other.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest, MAX_REQUEST_LINE, readLine } from '@tel/tcp-wire';
import { createLogger } from '@tel/logging';
import { startTcpStreamServer, type TcpStreamServer } from './tcp-stream.js';

const log = createLogger('manager', { level: 'error', stream: process.stdout });
let manager: TcpStreamServer;
let echoPort: number;
let echo: net.Server;

const END = Buffer.alloc(4);
function frame(payload: Buffer | string): Buffer {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(p.length);
  return Buffer.concat([h, p]);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads frames until the zero frame; resolves the payload, or rejects if the socket closes first. */
function readFrames(s: net.Socket, initial: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = initial;
    const payload: Buffer[] = [];
    const parse = (): boolean => {
      for (;;) {
        if (buf.length < 4) return false;
        const n = buf.readUInt32BE(0);
        if (n === 0) return true;
        if (buf.length < 4 + n) return false;
        payload.push(buf.subarray(4, 4 + n));
        buf = buf.subarray(4 + n);
      }
    };
    const done = () => {
      s.off('data', onData);
      s.off('close', onClose);
      resolve(Buffer.concat(payload));
    };
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (parse()) done();
    };
    const onClose = () => reject(new Error('closed before the end frame'));
    if (parse()) return done();
    s.on('data', onData);
    s.on('close', onClose);
    s.resume();
  });
}

/** Connects, sends the request line (plus early bytes), reads the manager's answer line. */
async function open(ip: string, port: number, early: Buffer = Buffer.alloc(0), raw?: Buffer) {
  const s = net.connect({ port: manager.port, host: '127.0.0.1', allowHalfOpen: true });
  s.on('error', () => undefined);
  s.write(Buffer.concat([raw ?? encodeRequest(ip, port), early]));
  const { line, rest } = await readLine(s, 1024, 5000);
  return { s, line, rest };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await sleep(10);
  }
}

async function listen(onConn: (s: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

beforeAll(async () => {
  ({ server: echo, port: echoPort } = await listen((s) => s.pipe(s)));
  manager = await startTcpStreamServer({ port: 0, host: '127.0.0.1', dialTimeoutMs: 2000, headerTimeoutMs: 500, log });
});

afterAll(async () => {
  await manager?.close();
  echo?.close();
});

describe('TCP stream tunnel server', () => {
  it('echoes through the tunnel, early frames included', async () => {
    const { s, line, rest } = await open('127.0.0.1', echoPort, Buffer.concat([frame('hello '), frame('world'), END]));
    expect(line).toBe('OK');
    expect((await readFrames(s, rest)).toString()).toBe('hello world');
    const closed = new Promise((r) => s.once('close', r));
    s.end();
    await closed;
    await until(() => manager.stats().active === 0);
  });

  it('answers ERR with the dial error for a refused port', async () => {
    const { server, port } = await listen(() => undefined);
    await new Promise((r) => server.close(r));
    const { s, line } = await open('127.0.0.1', port, frame('dropped'));
    expect(line).toBe(`ERR connect ECONNREFUSED 127.0.0.1:${port}`);
    await new Promise((r) => s.once('end', r));
    s.end();
  });

  it.each([
    ['an HTTP request', 'GET / HTTP/1.1\r\n', /^ERR request line must be "TEL-TCP\/1 <ip> <port>"/],
    ['a host name', 'TEL-TCP/1 example.com 80\n', /^ERR not an IP literal/],
    ['a bad port', 'TEL-TCP/1 127.0.0.1 0\n', /^ERR bad port/],
    ['an overlong line', 'TEL-TCP/1 ' + 'x'.repeat(200) + '\n', /^ERR request line: first line longer than 128 bytes$/],
  ])('answers ERR to %s', async (_what, raw, expected) => {
    const { s, line } = await open('', 0, Buffer.alloc(0), Buffer.from(raw));
    expect(line).toMatch(expected);
    expect(line.length).toBeLessThan(600);
    await new Promise((r) => s.once('end', r));
    s.end();
  });

  it('answers ERR when no request line comes in time', async () => {
    const s = net.connect({ port: manager.port, host: '127.0.0.1', allowHalfOpen: true });
    s.write('TEL-TCP/1 127.0.0.1');
    const { line } = await readLine(s, MAX_REQUEST_LINE, 5000);
    expect(line).toBe('ERR request line: no first line within 500 ms');
    s.destroy();
  });

  it('half-close: the client ends first and still gets the answer', async () => {
    const { server, port } = await listen((c) => {
      let n = 0;
      c.on('data', (d: Buffer) => (n += d.length));
      c.on('end', () => setTimeout(() => c.end(`got ${n}`), 30));
    });
    const { s, line, rest } = await open('127.0.0.1', port, Buffer.concat([frame('abcdef'), END]));
    expect(line).toBe('OK');
    expect((await readFrames(s, rest)).toString()).toBe('got 6');
    const closed = new Promise((r) => s.once('close', r));
    s.end();
    await closed;
    server.close();
  });

  it('half-close: the destination ends first and still receives what the client sends later', async () => {
    let got: (b: Buffer) => void;
    const atDest = new Promise<Buffer>((r) => (got = r));
    const { server, port } = await listen((c) => {
      const chunks: Buffer[] = [];
      c.on('data', (d: Buffer) => chunks.push(d));
      c.on('end', () => got(Buffer.concat(chunks)));
      c.end('bye');
    });
    const { s, line, rest } = await open('127.0.0.1', port);
    expect(line).toBe('OK');
    expect((await readFrames(s, rest)).toString()).toBe('bye');
    await sleep(30);
    s.write(Buffer.concat([frame('late'), END]));
    expect((await atDest).toString()).toBe('late');
    const closed = new Promise((r) => s.once('close', r));
    s.end();
    await closed;
    server.close();
  });

  it('abort: the client dropping the tunnel resets the destination connection', async () => {
    let destError: (e: NodeJS.ErrnoException) => void;
    const destErr = new Promise<NodeJS.ErrnoException>((r) => (destError = r));
    const { server, port } = await listen((c) => {
      c.removeAllListeners('error');
      c.on('error', destError);
      c.resume();
    });
    const { s, line } = await open('127.0.0.1', port, frame('partial'));
    expect(line).toBe('OK');
    await sleep(30);
    s.destroy();
    expect((await destErr).code).toBe('ECONNRESET');
    server.close();
  });

  it('downloads 8 MiB from each of 4 destinations at once, intact, two of them read late (pooled read chunks are reused only once written)', async () => {
    const blobs = Array.from({ length: 4 }, () => randomBytes(8 << 20));
    const { server, port } = await listen((s) => {
      s.once('data', (d) => s.end(blobs[Number(d.toString())]!));
      s.resume();
    });
    try {
      await Promise.all(
        blobs.map(async (blob, k) => {
          const { s, line, rest } = await open('127.0.0.1', port, Buffer.concat([frame(String(k)), END]));
          expect(line).toBe('OK');
          // Unread, the tunnel backs up: the manager's writes queue and hold their chunks.
          if (k % 2 === 1) {
            s.pause();
            await sleep(300);
          }
          expect((await readFrames(s, rest)).equals(blob)).toBe(true);
          s.end();
        }),
      );
    } finally {
      server.close();
    }
  }, 30_000);

  it('uploads 8 MiB to each of 4 destinations at once, intact, two of them read late, then reuses each tunnel (pooled reads of the accepted side)', async () => {
    const blobs = Array.from({ length: 4 }, () => randomBytes(8 << 20));
    // Each destination answers with the sha256 of what it received, once the client has ended.
    const { server, port } = await listen((s) => {
      const h = createHash('sha256');
      let first = true;
      s.on('data', (d: Buffer) => {
        h.update(d);
        if (first) {
          first = false;
          s.pause();
          setTimeout(() => s.resume(), 300);
        }
      });
      s.on('end', () => s.end(h.digest('hex')));
    });
    try {
      await Promise.all(
        blobs.map(async (blob, k) => {
          const frames: Buffer[] = [];
          for (let off = 0; off < blob.length; off += 60_000) frames.push(frame(blob.subarray(off, off + 60_000)));
          const { s, line, rest } = await open('127.0.0.1', k % 2 ? port : echoPort);
          expect(line).toBe('OK');
          const answer = readFrames(s, rest);
          for (const f of frames) if (!s.write(f)) await new Promise((r) => s.once('drain', r));
          s.write(END);
          const got = await answer;
          if (k % 2) expect(got.toString()).toBe(createHash('sha256').update(blob).digest('hex'));
          else expect(got.equals(blob)).toBe(true);
          // The same tunnel carries the next request.
          s.write(Buffer.concat([encodeRequest('127.0.0.1', echoPort), frame('again'), END]));
          const next = await readLine(s, 1024, 5000);
          expect(next.line).toBe('OK');
          expect((await readFrames(s, next.rest)).toString()).toBe('again');
          s.end();
        }),
      );
    } finally {
      server.close();
    }
  }, 30_000);

  it('serves 200 concurrent connections', async () => {
    const before = manager.stats().total;
    const payloads = Array.from({ length: 200 }, () => randomBytes(64 * 1024));
    await Promise.all(
      payloads.map(async (p) => {
        const { s, line, rest } = await open('127.0.0.1', echoPort, Buffer.concat([frame(p), END]));
        expect(line).toBe('OK');
        expect((await readFrames(s, rest)).equals(p)).toBe(true);
        const closed = new Promise((r) => s.once('close', r));
        s.end();
        await closed;
      }),
    );
    expect(manager.stats().total - before).toBe(200);
    await until(() => manager.stats().active === 0);
  }, 30_000);
});
