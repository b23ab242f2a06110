// The contract-derived router on a real HTTP/2 server: unary JSON calls, coded errors, a watch that
// streams NDJSON until the client cancels, raw routes; and, at compile time, that a contract
// method without a handler (or without a route) does not compile.
import http2 from 'node:http2';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGER_ROUTES, type ManagerContract, type RouteTable, type Unary, type Watch } from '@tel/contracts';
import { createLogger } from '@tel/logging';
import { RequestError, createRouter, type Handlers } from './router.js';

interface TestContract {
  echo: Unary<{ text: string }, { text: string; length: number }>;
  hello: Unary<Record<string, never>, { hello: string }>;
  refuse: Unary<Record<string, never>, Record<string, never>>;
  crash: Unary<Record<string, never>, Record<string, never>>;
  ticks: Watch<{ from: number }, { n: number }>;
}
const routes: RouteTable<TestContract> = {
  echo: { kind: 'unary', http: 'POST', path: '/echo' },
  hello: { kind: 'unary', http: 'GET', path: '/hello' },
  refuse: { kind: 'unary', http: 'POST', path: '/refuse' },
  crash: { kind: 'unary', http: 'POST', path: '/crash' },
  ticks: { kind: 'watch', path: '/ticks' },
};

let server: http2.Http2Server;
let client: http2.ClientHttp2Session;
const watchAborted: boolean[] = [];

beforeAll(async () => {
  const handlers: Handlers<TestContract> = {
    echo: (req) => ({ text: req.text, length: req.text.length }),
    hello: async () => ({ hello: 'world' }),
    refuse: () => {
      throw new RequestError('unknown-session', 'cluster', 'the traffic manager has no session "x"', 'arrive again');
    },
    crash: () => {
      throw new Error('boom');
    },
    ticks: (req, sink) => {
      let n = req.from;
      sink.send({ n: n++ });
      const t = setInterval(() => sink.send({ n: n++ }), 20);
      sink.signal.addEventListener('abort', () => {
        clearInterval(t);
        watchAborted.push(true);
      });
    },
  };
  const router = createRouter(routes, handlers, { raw: { route: { http: 'POST', path: '/raw' }, handler: (s) => s.respond({ ':status': 200 }, { endStream: true }) } }, createLogger(undefined));
  server = http2.createServer();
  server.on('stream', router);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
});

afterAll(async () => {
  client?.close();
  await new Promise<void>((r) => server.close(() => r()));
});

function call(method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = client.request({ ':method': method, ':path': path });
    let status = 0;
    let text = '';
    req.setEncoding('utf8');
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d: string) => (text += d));
    req.on('end', () => resolve({ status, body: text }));
    req.on('error', reject);
    req.end(body);
  });
}

describe('createRouter', () => {
  it('unary: JSON body in, JSON answer out; GET methods take no body', async () => {
    expect(await call('POST', '/echo', JSON.stringify({ text: 'hi' }))).toEqual({ status: 200, body: '{"text":"hi","length":2}' });
    expect(await call('GET', '/hello')).toEqual({ status: 200, body: '{"hello":"world"}' });
  });

  it('errors carry {category, message, hint, code}; unexpected ones are code internal', async () => {
    const refused = await call('POST', '/refuse', '{}');
    expect(refused.status).toBe(404);
    expect(JSON.parse(refused.body)).toEqual({ error: { category: 'cluster', message: 'the traffic manager has no session "x"', hint: 'arrive again', code: 'unknown-session' } });
    const crashed = await call('POST', '/crash', '{}');
    expect(crashed.status).toBe(500);
    expect(JSON.parse(crashed.body).error).toMatchObject({ category: 'bug', message: 'boom', code: 'internal' });
  });

  it('a body that is not a JSON object, a wrong HTTP method or an unknown path is refused with a code', async () => {
    expect(JSON.parse((await call('POST', '/echo', '[1]')).body).error).toMatchObject({ code: 'bad-request', message: 'the request body is not a JSON object' });
    expect(JSON.parse((await call('POST', '/echo', '{')).body).error.code).toBe('bad-request');
    expect(JSON.parse((await call('GET', '/echo')).body).error).toMatchObject({ code: 'no-such-route', message: 'no such manager route GET /echo' });
  });

  it('raw routes get the stream', async () => {
    expect((await call('POST', '/raw', 'bytes')).status).toBe(200);
  });

  it('watch: NDJSON events from the first (current) one on, ended by the client cancelling', async () => {
    const events = await new Promise<{ n: number }[]>((resolve, reject) => {
      const req = client.request({ ':method': 'POST', ':path': '/ticks' });
      const got: { n: number }[] = [];
      let buf = '';
      req.setEncoding('utf8');
      req.on('response', (h) => expect(h['content-type']).toBe('application/x-ndjson'));
      req.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          got.push(JSON.parse(buf.slice(0, i)) as { n: number });
          buf = buf.slice(i + 1);
        }
        if (got.length >= 3) {
          req.close(http2.constants.NGHTTP2_CANCEL);
          resolve(got);
        }
      });
      req.on('error', reject);
      req.end(JSON.stringify({ from: 7 }));
    });
    expect(events.slice(0, 3)).toEqual([{ n: 7 }, { n: 8 }, { n: 9 }]);
    await expect.poll(() => watchAborted.length).toBe(1);
  });
});

describe('compile-time completeness (checked by typecheck)', () => {
  it('every manager method needs a handler and a route', () => {
    const noop = () => ({}) as never;
    // @ts-expect-error -- `remain` has no handler: a manager missing a method does not compile.
    const missing: Handlers<ManagerContract> = {
      version: noop,
      clusterInfo: noop,
      arrive: noop,
      setDesired: noop,
      depart: noop,
      listSessions: noop,
      watchSessions: () => undefined,
      stats: noop,
    };
    // @ts-expect-error -- a watch handler cannot serve a unary method (it never answers).
    const wrongKind: Handlers<TestContract>['echo'] = (_req: { text: string }, _sink: unknown) => undefined;
    // @ts-expect-error -- `watchSessions` has no route.
    const unrouted: RouteTable<ManagerContract> = { ...MANAGER_ROUTES, watchSessions: undefined };
    expect([missing, wrongKind, unrouted]).toHaveLength(3);
  });
});
