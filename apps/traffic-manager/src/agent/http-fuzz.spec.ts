// Fuzz of the agent's HTTP router (routeHttp → HTTP/1.1 or HTTP/2): mutated requests and frame
// sequences against a loopback app and intercept that speak both; nothing may crash or leak, a
// request whose first head is not valid HTTP/1.1 never reaches the intercept, an HTTP/2 stream
// reaches it only when its headers match, and afterwards the same router still serves both.
// TEL_FUZZ=full runs the full 100k + 100k; the default is a tenth of that. TEL_FUZZ_H1 / TEL_FUZZ_H2
// set either count. Node 20's nghttp2 aborts on some frame sequences (testing/nghttp2-abort.ts) and
// node:http2 crashes when it destroys a session mid-read; the frame guard (h2-frame-guard.ts) keeps
// both from happening, which the full run proves.
import { readdirSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import { matches, parseFilter, targetPath } from '@tel/agent-config';
import { RawClient } from './http1/testing/harness.js';
import { parseRequestHead } from './http1/wire.js';
import { APP_TARGET } from './http1/index.js';
import { connectH2, request } from './http2/testing/harness.js';
import { routeHttp, sniff } from './http-route.js';
import { PREFACE } from './testing/h2-frames.js';
import { mutatedHttp1, mutatedHttp2, Rng } from './testing/http-fuzz.js';

const FULL = process.env.TEL_FUZZ === 'full';
const H1_REQUESTS = Number(process.env.TEL_FUZZ_H1 ?? (FULL ? 100_000 : 10_000));
const H2_SEQUENCES = Number(process.env.TEL_FUZZ_H2 ?? (FULL ? 100_000 : 10_000));
const REQUESTS_PER_CONNECTION = 4;
const CONCURRENCY = 64;
/** A connection still open this long after its bytes went is cut (a body the fuzz promised and never sent). */
const LINGER_MS = 250;
const SEED = Number(process.env.TEL_FUZZ_SEED ?? 20261205);

interface Upstream {
  name: string;
  server: net.Server;
  port: number;
  h1Requests: number;
  h2Streams: number;
  /** Intercept only: streams whose headers don't match the filter (must stay 0). */
  h2Mismatches: string[];
  open: Set<net.Socket>;
}

const noop = () => undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server speaking HTTP/1.1 and h2c on one port (chosen by the preface), answering `<name> <method> <path>`. */
async function dualUpstream(name: string, checkH2?: (raw: string[], headers: http2.IncomingHttpHeaders) => boolean): Promise<Upstream> {
  const up: Upstream = { name, server: net.createServer(), port: 0, h1Requests: 0, h2Streams: 0, h2Mismatches: [], open: new Set() };
  const answer = (method: string, path: string) => `${name} ${method} ${path}`;
  const h1 = http.createServer((req, res) => {
    up.h1Requests++;
    req.on('error', noop);
    req.resume();
    req.on('end', () => res.end(answer(String(req.method), String(req.url))));
  });
  h1.on('clientError', (_e, s: net.Socket) => s.destroy());
  const h2 = http2.createServer();
  h2.on('sessionError', noop);
  h2.on('session', (s) => s.on('error', noop));
  h2.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw: string[]) => {
    up.h2Streams++;
    stream.on('error', noop);
    if (checkH2 && !checkH2(raw, headers)) up.h2Mismatches.push(JSON.stringify(raw));
    stream.resume();
    stream.on('end', () => {
      if (stream.destroyed || stream.closed) return;
      stream.respond({ ':status': 200 });
      stream.end(answer(String(headers[':method']), String(headers[':path'])));
    });
  });
  up.server = net.createServer((s) => {
    up.open.add(s);
    s.on('close', () => up.open.delete(s));
    s.on('error', noop);
    let first = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      first = Buffer.concat([first, d]);
      const n = Math.min(first.length, PREFACE.length);
      if (first.compare(PREFACE, 0, n, 0, n) === 0 && n < PREFACE.length) return;
      s.off('data', onData);
      s.pause();
      s.unshift(first);
      if (n === PREFACE.length && first.compare(PREFACE, 0, n, 0, n) === 0) h2.emit('connection', s);
      else {
        h1.emit('connection', s);
        s.resume(); // node's HTTP/1 server reads a socket handed to it only once it flows
      }
    };
    s.on('data', onData);
  });
  up.port = await new Promise((resolve) => up.server.listen(0, '127.0.0.1', () => resolve((up.server.address() as net.AddressInfo).port)));
  return up;
}

let app: Upstream;
let ws: Upstream;
let router: net.Server;
let routerPort: number;
const routerSockets = new Set<net.Socket>();
/** The router's own connections to the app and the intercept, with the client connection they serve. */
const routerUpstreams = new Map<net.Socket, number>();
/**
 * Targets dialled for each connection the router accepted, per client port in accept order. The
 * n-th client connection from a port is the n-th the router accepted from it (a port is reused
 * only after its last connection closed), so a busy machine can't pair a connection with another's.
 */
const dialled = new Map<number, string[][]>();
/** Client connections made so far, per local port. */
const connectsFrom = new Map<number, number>();
/** What each client connection sent, by its local port (the last one to use it): printed for a connection left open, to replay it. */
const sent = new Map<number, Buffer>();
const problems = { uncaught: [] as string[], unhandled: [] as string[] };
const onUncaught = (e: Error) => problems.uncaught.push(e.stack ?? String(e));
const onUnhandled = (e: unknown) => problems.unhandled.push(String(e));

const header = parseFilter({ headers: ['x-dev=alice'] });
const prefix = parseFilter({ pathPrefix: '/alice/' });

/** The intercept's own reading of a stream's headers: does it match x-dev=alice or /alice/? */
function wantsIntercept(raw: string[], headers: http2.IncomingHttpHeaders): boolean {
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i] === 'x-dev' && raw[i + 1] === 'alice') return true;
  const p = headers[':path'];
  return typeof p === 'string' && targetPath(p).startsWith('/alice/');
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

beforeAll(async () => {
  if ('error' in header || 'error' in prefix) throw new Error('bad fuzz filter');
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
  app = await dualUpstream('app');
  ws = await dualUpstream('ws', wantsIntercept);
  const log = createLogger(undefined);
  router = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    routerSockets.add(client);
    client.on('close', () => routerSockets.delete(client));
    client.on('error', noop);
    const record: string[] = [];
    const from = client.remotePort ?? 0;
    dialled.set(from, [...(dialled.get(from) ?? []), record]);
    routeHttp(client, {
      choose: (req) => ('filter' in header && matches(header.filter, req)) || ('filter' in prefix && matches(prefix.filter, req)) ? 'ws' : APP_TARGET,
      connect: (target) =>
        new Promise<net.Socket>((resolve, reject) => {
          record.push(target);
          const s = net.connect({ host: '127.0.0.1', port: target === APP_TARGET ? app.port : ws.port, allowHalfOpen: true });
          routerUpstreams.set(s, client.remotePort ?? 0);
          s.once('close', () => routerUpstreams.delete(s));
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
      log,
    }, { h2: { idleProbeMs: 100, pingWaitMs: 100 } });
  });
  routerPort = await new Promise((resolve) => router.listen(0, '127.0.0.1', () => resolve((router.address() as net.AddressInfo).port)));
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUnhandled);
  for (const s of routerSockets) s.destroy();
  for (const up of [app, ws]) for (const s of up.open) s.destroy();
  await Promise.all([router, app.server, ws.server].map((s) => new Promise((r) => s.close(r))));
});

/** Sends `bytes` (in 1-3 writes), half-closes, reads until the router closes or LINGER_MS pass. */
function runConnection(bytes: Buffer, rng: Rng): Promise<{ targets: () => string[]; cut: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: routerPort, allowHalfOpen: true });
    let timer: NodeJS.Timeout | undefined;
    let cut = false;
    let targets: () => string[] = () => [];
    s.on('error', noop);
    s.on('data', noop);
    s.on('connect', () => {
      const port = s.localPort ?? 0;
      sent.set(port, bytes);
      const nth = connectsFrom.get(port) ?? 0;
      connectsFrom.set(port, nth + 1);
      // Read once everything settled: the router may still dial after the client is gone.
      targets = () => dialled.get(port)?.[nth] ?? [];
      const cuts = [0, ...Array.from({ length: rng.int(3) }, () => rng.int(bytes.length)).sort((a, b) => a - b), bytes.length];
      for (let i = 0; i + 1 < cuts.length; i++) s.write(bytes.subarray(cuts[i], cuts[i + 1]));
      s.end();
      timer = setTimeout(() => {
        cut = true;
        s.destroy();
      }, LINGER_MS);
      s.once('close', () => {
        clearTimeout(timer);
        resolve({ targets, cut });
      });
    });
  });
}

async function runAll(count: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await one(next++);
    }),
  );
}

/** Waits (up to 10 s, for a loaded machine) until every connection of the run is closed on all sides. */
async function settle(): Promise<void> {
  const until = Date.now() + 10_000;
  while ((routerSockets.size || routerUpstreams.size || app.open.size || ws.open.size) && Date.now() < until) await sleep(20);
}

describe('routeHttp fuzz', () => {
  it(`survives ${H1_REQUESTS} mutated HTTP/1.1 requests and ${H2_SEQUENCES} mutated HTTP/2 frame sequences`, async () => {
    await settle();
    const fdsBefore = openFds();
    const rng = new Rng(SEED);
    const stats = { h1Connections: 0, h1InvalidFirst: 0, h1Cut: 0, h2Cut: 0 };
    const invalid: { targets: () => string[]; bytes: Buffer }[] = [];
    const started = Date.now();

    await runAll(Math.ceil(H1_REQUESTS / REQUESTS_PER_CONNECTION), async () => {
      const bytes = mutatedHttp1(rng, REQUESTS_PER_CONNECTION);
      const verdict = sniff(bytes);
      const head = parseRequestHead(bytes);
      // Not a request the router can read from its first byte on: it must all go to the app.
      const invalidFirst = verdict === 'raw' || verdict === 'wait' || (verdict === 'http1' && !('head' in head));
      const r = await runConnection(bytes, rng);
      stats.h1Connections++;
      if (r.cut) stats.h1Cut++;
      if (invalidFirst) {
        stats.h1InvalidFirst++;
        invalid.push({ targets: r.targets, bytes });
      }
    });
    const h1Done = Date.now();

    await runAll(H2_SEQUENCES, async () => {
      const r = await runConnection(mutatedHttp2(rng), rng);
      if (r.cut) stats.h2Cut++;
    });
    const h2Done = Date.now();

    await settle();
    // Let closed handles be released before counting descriptors.
    await sleep(100);
    const fdsAfter = openFds();
    console.info(
      `fuzz: ${H1_REQUESTS} HTTP/1.1 requests on ${stats.h1Connections} connections (${stats.h1InvalidFirst} invalid from the first head, ${stats.h1Cut} cut after ${LINGER_MS} ms) in ${h1Done - started} ms; ` +
        `${H2_SEQUENCES} HTTP/2 sequences (${stats.h2Cut} cut) in ${h2Done - h1Done} ms; app h1/h2 ${app.h1Requests}/${app.h2Streams}, intercept h1/h2 ${ws.h1Requests}/${ws.h2Streams}; fds ${fdsBefore} → ${fdsAfter}`,
    );

    expect(problems.uncaught).toEqual([]);
    expect(problems.unhandled).toEqual([]);
    const misrouted = invalid.filter((c) => c.targets().includes('ws')).map((c) => c.bytes.toString('latin1').slice(0, 300));
    expect(misrouted.slice(0, 5)).toEqual([]);
    expect(ws.h2Mismatches.slice(0, 5)).toEqual([]);
    // The fuzz reached both targets over both protocols (it is not all rejected at the door).
    if (H1_REQUESTS > 0) expect(Math.min(app.h1Requests, ws.h1Requests)).toBeGreaterThan(0);
    if (H2_SEQUENCES > 0) expect(Math.min(app.h2Streams, ws.h2Streams)).toBeGreaterThan(0);
    const left = [...routerSockets].map((c) => ({ sent: sent.get(c.remotePort ?? 0)?.toString('latin1').slice(0, 600), ended: c.readableEnded, finished: c.writableEnded }));
    expect(left).toEqual([]);
    const upLeft = [...routerUpstreams].map(([u, port]) => ({ sent: sent.get(port)?.toString('latin1').slice(0, 400), ended: u.readableEnded, finished: u.writableEnded, destroyed: u.destroyed }));
    expect(upLeft).toEqual([]);
    expect([app.open.size, ws.open.size]).toEqual([0, 0]);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore + 2);

    // The same router still serves HTTP/1.1 and h2, each to the right target.
    const c = new RawClient(routerPort);
    c.send('GET /alice/after HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.readResponse()).body.toString()).toBe('ws GET /alice/after');
    c.send('GET /after HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.readResponse()).body.toString()).toBe('app GET /after');
    c.close();
    const s = connectH2(routerPort);
    expect((await request(s, { ':path': '/h2', 'x-dev': 'alice' })).body.toString()).toBe('ws GET /h2');
    expect((await request(s, { ':path': '/h2' })).body.toString()).toBe('app GET /h2');
    s.destroy();
  }, 600_000);
});
