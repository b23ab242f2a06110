// The frame guard in front of a real node:http2 server: ordinary clients are served through it,
// and the frames that abort Node 20's nghttp2 (found by the agent's fuzz) end in GOAWAY
// FRAME_SIZE_ERROR and a close, with this process (and the server) still alive.
import { readdirSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { frameSizeProblem, guardH2, H2FrameScanner } from './h2-frame-guard.js';
import { FLAG, FRAME, PREFACE, frame, requestFrames, settings, u32 } from './agent/testing/h2-frames.js';
import { NGHTTP2_ABORT_FRAMES } from './agent/testing/nghttp2-abort.js';

const cleanup: (() => void)[] = [];
afterEach(() => cleanup.splice(0).forEach((c) => c()));

async function guardedServer(): Promise<{ port: number; refused: string[]; served: net.Socket[] }> {
  const refused: string[] = [];
  const served: net.Socket[] = [];
  const h2 = http2.createServer();
  h2.on('sessionError', () => undefined);
  h2.on('session', (s) => s.on('error', () => undefined));
  h2.on('stream', (st) => {
    st.on('error', () => undefined);
    st.respond({ ':status': 200 });
    st.end('ok');
  });
  const tcp = net.createServer((sock) => {
    sock.on('error', () => undefined);
    guardH2(sock, {
      onBad: (why) => refused.push(why),
      serve: (inner) => {
        served.push(inner);
        h2.emit('connection', inner);
      },
    });
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  cleanup.push(() => tcp.close());
  return { port: (tcp.address() as net.AddressInfo).port, refused, served };
}

async function get(port: number): Promise<string> {
  const c = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const st = c.request({ ':path': '/' });
    let body = '';
    st.setEncoding('utf8');
    st.on('data', (d: string) => (body += d));
    await once(st, 'end');
    return body;
  } finally {
    c.close();
  }
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

async function waitFor(cond: () => boolean): Promise<void> {
  const until = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('guardH2', () => {
  it('serves ordinary clients, and ends a connection with a bad frame size in GOAWAY FRAME_SIZE_ERROR', async () => {
    const s = await guardedServer();
    expect(await get(s.port)).toBe('ok');
    const raw = net.connect(s.port, '127.0.0.1');
    raw.on('error', () => undefined);
    const got: Buffer[] = [];
    raw.on('data', (d: Buffer) => got.push(d));
    raw.write(NGHTTP2_ABORT_FRAMES);
    await once(raw, 'close');
    const all = Buffer.concat(got);
    expect(all.subarray(all.length - 17).toString('hex')).toBe('0000080700000000000000000000000006');
    expect(s.refused).toEqual(['a RST_STREAM frame of 19 bytes (always 4)']);
    expect(await get(s.port)).toBe('ok'); // the process and the server are alive
    // node:http2 read native sockets (a JS stream under it crashes under load), and they are closed.
    expect(s.served.map((x) => (x as unknown as { _handle?: object })._handle?.constructor.name ?? 'closed')).not.toContain('JSStreamSocket');
    expect(s.served.length).toBe(3);
    await waitFor(() => s.served.every((x) => x.destroyed));
  });

  it('does not serve a connection that closed before its native socket was ready, and leaks nothing', async () => {
    const s = await guardedServer();
    await get(s.port); // the loopback listener is up
    const fds = openFds();
    for (let i = 0; i < 20; i++) {
      const raw = net.connect(s.port, '127.0.0.1');
      raw.on('error', () => undefined);
      raw.on('connect', () => raw.destroy());
    }
    await waitFor(() => s.served.length >= 1 && s.served.every((x) => x.destroyed));
    await new Promise((r) => setTimeout(r, 100));
    expect(openFds()).toBeLessThanOrEqual(fds);
  });

  it.each([
    [16_385, 0, 0, /at most 16384/],
    [5, 3, 0, /RST_STREAM frame of 5 bytes/],
    [4, 2, 0, /PRIORITY frame of 4 bytes/],
    [7, 6, 0, /PING frame of 7 bytes/],
    [5, 8, 0, /WINDOW_UPDATE/],
    [7, 4, 0, /SETTINGS frame of 7/],
    [6, 4, 1, /SETTINGS frame of 6/],
    [4, 7, 0, /GOAWAY frame of 4 bytes/],
  ])('refuses a frame of %i bytes, type %i, flags %i', (len, type, flags, re) => {
    expect(frameSizeProblem(len, type, flags)).toMatch(re);
  });

  it.each([
    [16_384, 0, 0],
    [0, 4, 1],
    [12, 4, 0],
    [8, 6, 0],
    [20, 7, 0],
    [100, 1, 4],
  ])('lets a frame of %i bytes, type %i, flags %i pass', (len, type, flags) => {
    expect(frameSizeProblem(len, type, flags)).toBeUndefined();
  });

  it('makes each frame on which node:http2 may destroy its session the last of a read, across chunk boundaries', () => {
    const ping = (flags: number) => frame(FRAME.PING, flags, 0, Buffer.alloc(8));
    const parts = [PREFACE, settings(), ping(0), frame(FRAME.SETTINGS, FLAG.ACK, 0), ping(FLAG.ACK), ...requestFrames(1, [[':path', '/']], Buffer.from('body'))];
    const bytes = Buffer.concat(parts);
    const ends = parts.map((_, i) => Buffer.concat(parts.slice(0, i + 1)).length);
    // The SETTINGS ACK and the PING ACK; not the PING that asks, nor the request.
    const expected = [ends[3], ends[4]];
    for (const cut of [1, 30, 50, 60, 70, bytes.length - 1]) {
      const sc = new H2FrameScanner();
      const a = sc.scan(bytes.subarray(0, cut)) as number[];
      const b = (sc.scan(bytes.subarray(cut)) as number[]).map((x) => x + cut);
      expect([...a, ...b]).toEqual(expected);
    }
    // After a GOAWAY every frame is one.
    const goaway = frame(FRAME.GOAWAY, 0, 0, Buffer.concat([u32(0), u32(0)]));
    const after = Buffer.concat([PREFACE, goaway, ...requestFrames(3, [[':path', '/']], Buffer.from('x'))]);
    expect(new H2FrameScanner().scan(after)).toEqual([24 + goaway.length, after.length - 10, after.length]);
  });

  it('survives a session node:http2 destroys in the middle of a read (unsolicited PING ACK, GOAWAY), with frames for open streams after it', async () => {
    const s = await guardedServer();
    const open = (id: number) => [frame(FRAME.HEADERS, FLAG.END_HEADERS, id, requestFrames(id, [[':method', 'POST'], [':scheme', 'http'], [':path', '/'], [':authority', 'x']])[0]!.subarray(9)), frame(FRAME.DATA, 0, id, Buffer.from('part'))];
    const killers = [frame(FRAME.PING, FLAG.ACK, 0, Buffer.alloc(8)), frame(FRAME.GOAWAY, 0, 0, Buffer.concat([u32(1), u32(2)])), frame(FRAME.SETTINGS, FLAG.ACK, 0)];
    for (let round = 0; round < 10; round++)
      for (const killer of killers) {
        const raw = net.connect(s.port, '127.0.0.1');
        raw.on('error', () => undefined);
        raw.resume();
        raw.end(Buffer.concat([PREFACE, settings(), ...open(1), killer, ...open(3), frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from('more'))]));
        await once(raw, 'close');
      }
    expect(await get(s.port)).toBe('ok'); // Node 22 aborts here without the barriers; Node 20 corrupts its heap
  });
});
