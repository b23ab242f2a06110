// spliceFramed over real sockets: loopback TCP for the plain side, TCP or unix sockets for the
// tunnel; both ends of the protocol are ours (two splices back to back) or a raw test peer.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connectPooled, encodeRequest, MAX_FRAME, MAX_REQUEST_LINE, parseRequest, readLine, releaseChunk, spliceFramed, type SpliceOptions, type SpliceResult } from './index.js';

const MiB = 1 << 20;
const dir = mkdtempSync(join(tmpdir(), 'tcp-wire-'));
let socketSeq = 0;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const END = Buffer.alloc(4);
function frame(payload: Buffer | string): Buffer {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(p.length);
  return Buffer.concat([h, p]);
}
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

interface Listener {
  connect(): net.Socket;
  port: number;
}
/** A server (allowHalfOpen, optionally pauseOnConnect) on loopback TCP or a unix socket. */
async function listen(onConn: (s: net.Socket) => void, o: { unix?: boolean; pause?: boolean } = {}): Promise<Listener> {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: o.pause ?? true }, (s) => {
    cleanups.push(() => s.destroy());
    s.on('error', () => undefined);
    onConn(s);
  });
  const path = o.unix ? join(dir, `s${socketSeq++}.sock`) : undefined;
  await new Promise<void>((r) => (path ? server.listen(path, r) : server.listen(0, '127.0.0.1', r)));
  cleanups.push(() => server.close());
  const port = path ? 0 : (server.address() as net.AddressInfo).port;
  return {
    port,
    connect: () => {
      const s = path ? net.connect({ path, allowHalfOpen: true }) : net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      cleanups.push(() => s.destroy());
      return s;
    },
  };
}

/** A connected pair [client, accepted]; the accepted side is paused, both allow half-open. */
async function pair(unix = false): Promise<[net.Socket, net.Socket]> {
  const accepted = deferred<net.Socket>();
  const l = await listen((s) => accepted.resolve(s), { unix });
  const c = l.connect();
  await new Promise((r) => c.once('connect', r));
  return [c, await accepted.promise];
}

/**
 * user → near listener ─(spliceFramed, unix tunnel)→ far listener ─(spliceFramed)→ app.
 * Resolves the two splice results of the (single) connection.
 */
async function chain(app: (s: net.Socket) => void) {
  const near = deferred<SpliceResult>();
  const far = deferred<SpliceResult>();
  const appL = await listen(app, { pause: false });
  const farL = await listen(
    (t) => {
      const d = appL.connect();
      d.once('connect', () => spliceFramed(d, t, { resetPlainOnAbort: true, onDone: far.resolve }));
    },
    { unix: true },
  );
  const nearL = await listen((p) => {
    const t = farL.connect();
    t.once('connect', () => spliceFramed(p, t, { resetPlainOnAbort: true, onDone: near.resolve }));
  });
  return { connect: () => nearL.connect(), results: Promise.all([near.promise, far.promise]) };
}

/** A streaming deframer for raw test peers. */
class Deframer {
  hash = createHash('sha256');
  bytes = 0;
  frames = 0;
  ended = false;
  private pending = Buffer.alloc(0);
  private remaining = 0;
  private endWaiters: (() => void)[] = [];
  feed(c: Buffer): void {
    const b = this.pending.length ? Buffer.concat([this.pending, c]) : c;
    this.pending = Buffer.alloc(0);
    let off = 0;
    while (off < b.length) {
      if (this.remaining === 0) {
        if (this.ended) throw new Error('data after the end frame');
        if (b.length - off < 4) {
          this.pending = Buffer.from(b.subarray(off));
          return;
        }
        const n = b.readUInt32BE(off);
        off += 4;
        if (n === 0) {
          this.ended = true;
          for (const w of this.endWaiters.splice(0)) w();
          continue;
        }
        this.remaining = n;
        this.frames++;
      } else {
        const take = Math.min(this.remaining, b.length - off);
        this.hash.update(b.subarray(off, off + take));
        this.bytes += take;
        off += take;
        this.remaining -= take;
      }
    }
  }
  untilEnd(): Promise<void> {
    return this.ended ? Promise.resolve() : new Promise((r) => this.endWaiters.push(r));
  }
}

/** Collects everything a socket receives until its end. */
function collect(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

/** plain (accepted from `app`) spliced with tunnel (accepted from `peer`). */
async function direct(opts: Omit<SpliceOptions, 'onDone'> = {}, o: { unixPlain?: boolean; unixTunnel?: boolean } = {}) {
  const [app, plain] = await pair(o.unixPlain);
  const [peer, tunnel] = await pair(o.unixTunnel);
  const done = deferred<SpliceResult>();
  spliceFramed(plain, tunnel, { ...opts, onDone: done.resolve });
  return { app, plain, peer, tunnel, done: done.promise };
}

describe('spliceFramed', () => {
  it('carries 32 MiB each way concurrently, intact, through two splices', async () => {
    const up = randomBytes(32 * MiB);
    const down = randomBytes(32 * MiB);
    const c = await chain((s) => {
      void collect(s).then((got) => appGot.resolve(got));
      s.end(down);
    });
    const appGot = deferred<Buffer>();
    const started = process.hrtime.bigint();
    const user = c.connect();
    const userGot = collect(user);
    user.end(up);
    const [atApp, atUser] = await Promise.all([appGot.promise, userGot]);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(sha(atApp)).toBe(sha(up));
    expect(sha(atUser)).toBe(sha(down));
    const [near, far] = await c.results;
    expect(near).toEqual({ aborted: false, bytesIn: 32 * MiB, bytesOut: 32 * MiB });
    expect(far).toEqual({ aborted: false, bytesIn: 32 * MiB, bytesOut: 32 * MiB });
    console.log(`64 MiB through two splices (32 MiB each way, concurrently, one process, buffered in the test) in ${ms.toFixed(0)} ms`);
  }, 60_000);

  it('pooled tunnel reads given back once written (releaseTunnelChunk): 32 MiB down intact, each chunk released once', async () => {
    const down = randomBytes(32 * MiB);
    const released: Buffer[] = [];
    const appL = await listen((s) => {
      s.resume();
      s.on('end', () => s.end(down));
    }, { pause: false });
    const farL = await listen((t) => {
      const d = appL.connect();
      d.once('connect', () => spliceFramed(d, t, { resetPlainOnAbort: true }));
    });
    const nearL = await listen((p) => {
      // The agent's shape: the tunnel dialled with pooled reads, its chunks given back when written.
      const t = connectPooled({ port: farL.port, host: '127.0.0.1', allowHalfOpen: true } as net.NetConnectOpts);
      cleanups.push(() => t.destroy());
      t.once('connect', () => spliceFramed(p, t, { resetPlainOnAbort: true, releaseTunnelChunk: (c) => (released.push(c), releaseChunk(c)) }));
    });
    const user = nearL.connect();
    const got = collect(user);
    user.end();
    expect(sha(await got)).toBe(sha(down));
    expect(released.length).toBeGreaterThan(10);
    expect(new Set(released).size).toBe(released.length);
  }, 60_000);

  it('half-close, client first: the client ends and still receives the answer sent afterwards', async () => {
    const c = await chain((s) => {
      void collect(s).then(async (req) => {
        await sleep(50);
        s.end(`answer:${req.toString()}`);
      });
    });
    const user = c.connect();
    const got = collect(user);
    user.end('hello');
    expect((await got).toString()).toBe('answer:hello');
    const [near, far] = await c.results;
    expect(near).toEqual({ aborted: false, bytesIn: 12, bytesOut: 5 });
    expect(far).toEqual({ aborted: false, bytesIn: 5, bytesOut: 12 });
  });

  it('half-close, server first: the server ends and still receives what the client sends later', async () => {
    const atApp = deferred<Buffer>();
    const c = await chain((s) => {
      void collect(s).then(atApp.resolve);
      s.end('bye');
    });
    const user = c.connect();
    expect((await collect(user)).toString()).toBe('bye');
    await sleep(50);
    user.end('late');
    expect((await atApp.promise).toString()).toBe('late');
    const [near, far] = await c.results;
    expect(near).toMatchObject({ aborted: false, bytesIn: 3, bytesOut: 4 });
    expect(far).toMatchObject({ aborted: false, bytesIn: 4, bytesOut: 3 });
  });

  it('keeps early data: frames sent right after the request line, before OK', async () => {
    // The manager's side, as in tcp-stream.ts, but dialling only after a pause.
    const echo = await listen((s) => s.pipe(s), { pause: false });
    const done = deferred<SpliceResult>();
    const server = await listen((t) => {
      t.on('error', () => undefined);
      void readLine(t, MAX_REQUEST_LINE, 2000).then(async ({ line, rest }) => {
        expect(parseRequest(line)).toEqual({ host: '127.0.0.1', port: 9, family: 4 });
        await sleep(100);
        const d = echo.connect();
        d.once('connect', () => {
          t.write('OK\n');
          spliceFramed(d, t, { initialTunnelBytes: rest, resetPlainOnAbort: true, onDone: done.resolve });
        });
      });
    });
    const client = server.connect();
    client.write(Buffer.concat([encodeRequest('127.0.0.1', 9), frame('early1'), frame('ear')]));
    await sleep(20);
    client.write(Buffer.concat([frame('ly2'), END]));
    const { line, rest } = await readLine(client, 16, 2000);
    expect(line).toBe('OK');
    const d = new Deframer();
    const got: Buffer[] = [];
    const feed = (c: Buffer) => {
      got.push(c);
      d.feed(c);
    };
    feed(rest);
    client.on('data', feed);
    client.resume();
    await d.untilEnd();
    expect(d.bytes).toBe(12);
    expect(d.hash.digest('hex')).toBe(sha(Buffer.from('early1early2')));
    client.end();
    expect(await done.promise).toEqual({ aborted: false, bytesIn: 12, bytesOut: 12 });
  });

  it('abort from the tunnel: the tunnel closing mid-stream resets the plain connection', async () => {
    const { app, peer, done } = await direct({ resetPlainOnAbort: true });
    const first = new Promise<Buffer>((r) => app.once('data', r));
    const appError = new Promise<NodeJS.ErrnoException>((r) => app.once('error', r));
    peer.write(frame('hello'));
    expect((await first).toString()).toBe('hello');
    peer.destroy(); // a FIN without the zero frame
    expect((await appError).code).toBe('ECONNRESET');
    expect(await done).toMatchObject({ aborted: true, reason: expect.stringMatching(/tunnel/), bytesIn: 5 });
  });

  it('abort from the tunnel: a tunnel reset destroys the plain connection (no reset asked)', async () => {
    const { app, peer, done } = await direct({});
    const appError = vi_fn();
    app.on('error', appError.fn);
    const appEnded = new Promise((r) => app.once('end', r)); // app allows half-open: no close yet
    app.resume();
    peer.write(frame('x'));
    await sleep(20);
    peer.resetAndDestroy();
    await appEnded;
    expect(appError.calls).toBe(0); // a FIN, not a reset
    expect(await done).toMatchObject({ aborted: true, reason: expect.stringMatching(/tunnel/) });
  });

  it('abort from the tunnel over a unix socket plain: destroyed (no RST exists there)', async () => {
    const { app, peer, done } = await direct({ resetPlainOnAbort: true }, { unixPlain: true });
    const appEnded = new Promise((r) => app.once('end', r));
    app.resume();
    app.on('error', () => undefined);
    peer.destroy();
    await appEnded;
    expect(await done).toMatchObject({ aborted: true });
  });

  it('abort from the plain side: a reset connection destroys the tunnel (no end frame)', async () => {
    const { app, peer, done } = await direct({ resetPlainOnAbort: true }, { unixTunnel: true });
    const d = new Deframer();
    peer.on('data', (c: Buffer) => d.feed(c));
    peer.on('error', () => undefined);
    const peerEnded = new Promise((r) => peer.once('end', r));
    app.write('abc');
    await sleep(50);
    app.resetAndDestroy();
    await peerEnded;
    expect(d.bytes).toBe(3);
    expect(d.ended).toBe(false);
    expect(await done).toMatchObject({ aborted: true, reason: expect.stringMatching(/connection/), bytesOut: 3 });
  });

  it('aborts on a frame longer than MAX_FRAME', async () => {
    const { app, peer, done } = await direct({ resetPlainOnAbort: true });
    const appError = new Promise<NodeJS.ErrnoException>((r) => app.once('error', r));
    peer.on('error', () => undefined);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(MAX_FRAME + 1);
    peer.write(h);
    expect((await appError).code).toBe('ECONNRESET');
    expect(await done).toMatchObject({ aborted: true, reason: `frame of ${MAX_FRAME + 1} bytes exceeds ${MAX_FRAME}`, bytesIn: 0 });
  });

  it('aborts on data after the end frame', async () => {
    const { app, peer, done } = await direct({ resetPlainOnAbort: true });
    app.on('error', () => undefined);
    peer.on('error', () => undefined);
    peer.write(Buffer.concat([frame('a'), END, frame('b')]));
    expect(await done).toMatchObject({ aborted: true, reason: 'data after the end frame', bytesIn: 1 });
  });

  it('backpressure plain → tunnel: a slow tunnel reader pauses the plain side', async () => {
    const { app, plain, peer, tunnel, done } = await direct({}, { unixTunnel: true });
    peer.pause();
    const data = randomBytes(64 * MiB);
    app.end(data); // 64 MiB offered at once
    let max = 0;
    const sample = setInterval(() => (max = Math.max(max, tunnel.writableLength)), 1);
    await sleep(400);
    expect(plain.isPaused()).toBe(true);
    expect(max).toBeLessThan(8 * MiB);
    const d = new Deframer();
    peer.on('data', (c: Buffer) => d.feed(c));
    peer.resume();
    await d.untilEnd();
    clearInterval(sample);
    expect(max).toBeLessThan(8 * MiB);
    expect(d.bytes).toBe(64 * MiB);
    expect(d.hash.digest('hex')).toBe(sha(data));
    const appEnd = collect(app);
    peer.end(END);
    expect((await appEnd).length).toBe(0);
    expect(await done).toEqual({ aborted: false, bytesIn: 0, bytesOut: 64 * MiB });
  }, 60_000);

  it('backpressure tunnel → plain: a slow plain reader pauses the tunnel side', async () => {
    const { app, plain, peer, tunnel, done } = await direct({}, { unixTunnel: true });
    app.pause();
    const data = randomBytes(64 * MiB);
    for (let off = 0; off < data.length; off += MAX_FRAME) peer.write(frame(data.subarray(off, off + MAX_FRAME)));
    peer.write(END);
    let max = 0;
    const sample = setInterval(() => (max = Math.max(max, plain.writableLength)), 1);
    await sleep(400);
    expect(tunnel.isPaused()).toBe(true);
    expect(max).toBeLessThan(8 * MiB);
    const got = collect(app);
    app.resume();
    const received = await got;
    clearInterval(sample);
    expect(max).toBeLessThan(8 * MiB);
    expect(received.length).toBe(64 * MiB);
    expect(sha(received)).toBe(sha(data));
    const d = new Deframer();
    peer.on('data', (c: Buffer) => d.feed(c));
    app.end();
    await d.untilEnd();
    expect(await done).toEqual({ aborted: false, bytesIn: 64 * MiB, bytesOut: 0 });
  }, 60_000);
});

function vi_fn() {
  const f = { calls: 0, fn: () => void f.calls++ };
  return f;
}
