// The SPDY client's codec and stream logic against a scripted peer on a real loopback socket.
// Against the real API server, kubelet and containerd: spdy.e2e.spec.ts and userd/e2e.
import net from 'node:net';
import { inflateSync, constants as zc } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connectPooled, releaseChunk } from '@tel/tcp-wire';
import { SpdyConnection, encodeHeaderBlock, storedZlibBlock } from './spdy.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

/** A connected pair: our client's socket and the peer's. */
async function pair(): Promise<{ client: net.Socket; peer: net.Socket }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const peerP = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const peer = await peerP;
  cleanups.push(() => {
    client.destroy();
    peer.destroy();
    server.close();
  });
  return { client, peer };
}

/** Frames the peer received, parsed (control: type + payload; data: stream id + flags + payload). */
function collectFrames(peer: net.Socket) {
  const frames: { control: boolean; type?: number; id?: number; flags: number; payload: Buffer }[] = [];
  let buf = Buffer.alloc(0);
  peer.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4) & 0xffffff;
      if (buf.length < 8 + len) break;
      const control = (buf[0]! & 0x80) !== 0;
      frames.push({
        control,
        ...(control ? { type: buf.readUInt16BE(2) } : { id: buf.readUInt32BE(0) & 0x7fffffff }),
        flags: buf[4]!,
        payload: Buffer.from(buf.subarray(8, 8 + len)),
      });
      buf = buf.subarray(8 + len);
    }
  });
  return frames;
}

const data = (id: number, flags: number, payload: Buffer) => {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(id, 0);
  h.writeUInt32BE((flags << 24) | payload.length, 4);
  return Buffer.concat([h, payload]);
};
const control = (type: number, flags: number, payload: Buffer) => {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8003, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE((flags << 24) | payload.length, 4);
  return Buffer.concat([h, payload]);
};
const u32s = (...xs: number[]) => Buffer.concat(xs.map((x) => Buffer.from([x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255])));
/** Streams that outlive a test are destroyed with an error when its sockets go: expected here. */
const open = (conn: SpdyConnection, headers: Record<string, string>) => {
  const st = conn.openStream(headers);
  st.on('error', () => undefined);
  return st;
};
const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('header blocks', () => {
  it('encodes count, then length-prefixed lowercase names and values', () => {
    const b = encodeHeaderBlock({ streamType: 'data', port: '8081' });
    expect(b.readUInt32BE(0)).toBe(2);
    expect(b.readUInt32BE(4)).toBe(10);
    expect(b.subarray(8, 18).toString()).toBe('streamtype');
    expect(b.readUInt32BE(18)).toBe(4);
    expect(b.subarray(22, 26).toString()).toBe('data');
    expect(b.length).toBe(4 + 8 + 10 + 4 + 8 + 4 + 4);
  });

  it('wraps successive blocks in one zlib stream that an independent inflater reads back', () => {
    const blocks = [encodeHeaderBlock({ a: '1' }), encodeHeaderBlock({ streamtype: 'error', port: '8083', requestid: '7' }), Buffer.alloc(0)];
    const stream = Buffer.concat(blocks.map((b, i) => storedZlibBlock(b, i === 0)));
    expect(stream.subarray(0, 2)).toEqual(Buffer.from([0x78, 0x01]));
    expect((0x78 * 256 + 0x01) % 31).toBe(0);
    // Every block ends flushed (empty stored block), so a sync-flushing inflater sees all of it.
    expect(inflateSync(stream, { finishFlush: zc.Z_SYNC_FLUSH })).toEqual(Buffer.concat(blocks));
    expect(() => storedZlibBlock(Buffer.alloc(70_000), false)).toThrow(/too large/);
  });
});

describe('SpdyConnection', () => {
  it("merges one stream's writes of one turn into one DATA frame, never across streams, control frames or turns", async () => {
    const { client, peer } = await pair();
    const frames = collectFrames(peer);
    const conn = new SpdyConnection(client);
    const a = open(conn, { streamtype: 'data', port: '1' });
    const b = open(conn, { streamtype: 'data', port: '2' });
    await until(() => frames.length >= 2); // the two SYN_STREAMs
    a.write('TEL-TCP/1 198.19.0.1 80\n');
    a.write('GET / HTTP/1.1\r\n\r\n');
    b.write('b1');
    a.write('a3');
    void conn.ping(1000).catch(() => undefined);
    a.write('a4');
    a.write('a5');
    await until(() => frames.length >= 7);
    await new Promise((r) => setImmediate(r));
    a.write('next turn');
    await until(() => frames.length >= 8);
    const data = frames.slice(2).map((f) => (f.control ? `control:${f.type}` : `${f.id}:${f.payload.toString()}`));
    expect(data).toEqual(['1:TEL-TCP/1 198.19.0.1 80\nGET / HTTP/1.1\r\n\r\n', '3:b1', '1:a3', 'control:6', '1:a4a5', '1:next turn']);
    // Each merged frame's header carries its whole length (the peer parsed them above) and no FIN.
    expect(frames.slice(2).every((f) => f.control || f.flags === 0)).toBe(true);
    conn.close();
  });

  it('opens streams with odd ids, sends data and FIN, receives data split anywhere', async () => {
    const { client, peer } = await pair();
    const frames = collectFrames(peer);
    const conn = new SpdyConnection(client);
    const s1 = open(conn, { streamtype: 'data', port: '1' });
    const s2 = open(conn, { streamtype: 'data', port: '2' });
    expect([s1.id, s2.id]).toEqual([1, 3]);
    s1.write('hello');
    s1.end();
    await until(() => frames.length >= 3);
    expect(frames[0]).toMatchObject({ control: true, type: 1 });
    expect(frames[0]!.payload.readUInt32BE(0)).toBe(1);
    // Data and FIN written in the same turn leave as one DATA frame carrying FIN.
    expect(frames[2]).toMatchObject({ control: false, id: 1, flags: 1 });
    expect(frames[2]!.payload.toString()).toBe('hello');

    // The peer answers stream 3 with a reply, 100 KB in one frame delivered byte-split, then FIN.
    const got: Buffer[] = [];
    s2.on('data', (d: Buffer) => got.push(d));
    const ended = new Promise((r) => s2.on('end', r));
    const body = Buffer.alloc(100_000);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    const wire = Buffer.concat([control(2, 0, u32s(3)), data(3, 0, body), data(3, 1, Buffer.alloc(0))]);
    for (let off = 0; off < wire.length; off += 7919) peer.write(wire.subarray(off, off + 7919));
    await ended;
    expect(s2.replied).toBe(true);
    expect(Buffer.concat(got)).toEqual(body);
  });

  it('answers the server PING, resolves its own, passes RST_STREAM and GOAWAY on', async () => {
    const { client, peer } = await pair();
    const frames = collectFrames(peer);
    const conn = new SpdyConnection(client);
    peer.write(control(6, 0, u32s(2)));
    await until(() => frames.some((f) => f.type === 6));
    expect(frames.find((f) => f.type === 6)!.payload.readUInt32BE(0)).toBe(2);

    const rtt = conn.ping(1000);
    await until(() => frames.filter((f) => f.type === 6).length === 2);
    peer.write(control(6, 0, frames.filter((f) => f.type === 6)[1]!.payload));
    expect(await rtt).toBeGreaterThanOrEqual(0);

    const s = open(conn, { x: 'y' });
    const err = new Promise<Error>((r) => s.on('error', r));
    peer.write(control(3, 0, u32s(s.id, 3)));
    expect((await err).message).toMatch(/reset by the API server \(SPDY status 3\)/);

    peer.write(control(7, 0, u32s(0, 0)));
    await until(() => !conn.acceptsStreams);
    expect(() => conn.openStream({})).toThrow(/GOAWAY/);
  });

  it('destroys every stream when the socket goes away, and a destroyed stream sends RST_STREAM', async () => {
    const { client, peer } = await pair();
    const frames = collectFrames(peer);
    const conn = new SpdyConnection(client);
    const a = open(conn, {});
    a.destroy();
    await until(() => frames.some((f) => f.type === 3));
    const rst = frames.find((f) => f.type === 3)!;
    expect([rst.payload.readUInt32BE(0), rst.payload.readUInt32BE(4)]).toEqual([1, 5]);

    const b = open(conn, {});
    const err = new Promise<Error>((r) => b.on('error', r));
    peer.destroy();
    expect((await err).message).toMatch(/API server closed/);
    expect(conn.closed).toBe(true);
  });

  it('pauses the socket for a stream whose reader is behind, and resumes when it reads', async () => {
    const { client, peer } = await pair();
    const conn = new SpdyConnection(client);
    const s = open(conn, {});
    peer.write(control(2, 0, u32s(1)));
    const chunk = Buffer.alloc(256 << 10, 1);
    for (let i = 0; i < 32; i++) peer.write(data(1, 0, chunk)); // 8 MiB, nobody reading
    await new Promise((r) => setTimeout(r, 300));
    // Buffered in the stream: bounded by its high-water mark plus about one socket read.
    expect(s.readableLength).toBeLessThan(4 << 20);
    let n = 0;
    s.on('data', (d: Buffer) => (n += d.length));
    await until(() => n === 8 << 20, 5000);
  });
});

describe('SPDY stream writes of pooled chunks (read-pool.ts)', () => {
  it('a chunk whose write has called back may be reused at once: what pooled sockets read arrives intact', async () => {
    const { client, peer } = await pair();
    const frames = collectFrames(peer);
    const conn = new SpdyConnection(client);
    // Two application connections, each sending 8 KB pieces (pooled chunks below the socket's
    // high-water mark, so their writes call back at once) a turn apart.
    const bodies = [randomBytes(4 << 20), randomBytes(4 << 20)];
    const server = net.createServer((s) => {
      s.once('data', (d: Buffer) => {
        const body = bodies[d[0]!]!;
        let off = 0;
        const next = () => {
          if (off >= body.length) return void s.end();
          s.write(body.subarray(off, (off += 8000)));
          setImmediate(next);
        };
        next();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => server.close());
    const streams = bodies.map(() => open(conn, { streamtype: 'data', port: '1' }));
    await Promise.all(
      streams.map((stream, i) => {
        const local = connectPooled({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
        local.write(Buffer.from([i]));
        local.on('data', (chunk: Buffer) => {
          if (!stream.write(chunk, () => releaseChunk(chunk))) local.pause();
        });
        stream.on('drain', () => local.resume());
        return new Promise((r) => local.on('end', r));
      }),
    );
    const received = (id: number) => Buffer.concat(frames.filter((f) => !f.control && f.id === id).map((f) => f.payload));
    await until(() => streams.every((s, i) => received(s.id).length >= bodies[i]!.length), 20_000);
    streams.forEach((s, i) => expect(received(s.id).equals(bodies[i]!), `stream ${s.id}`).toBe(true));
    conn.close();
  });
});
