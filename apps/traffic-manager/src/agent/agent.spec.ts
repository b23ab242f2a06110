// The agent end to end on loopback: a real app server, a fake manager built from the manager's own
// router (HTTP/2) plus a real data-port server, a real workstation server behind it.
import { freePort } from './testing/free-port.js';
import { testAgentEnv } from './testing/agent-env.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import { KEEP_MAX } from './intercepted.js';
import { startAgent, type AgentOptions, type RunningAgent } from './run.js';
import { AGENT_ENV, parseAgentEnv } from './settings.js';
import { FakeManager } from './testing/fake-manager.js';

const log = createLogger('agent-test', { level: 'error', stream: process.stdout });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** A server that reads a whole request (until FIN), then answers `<prefix>` + it and ends. */
async function answerServer(prefix: string): Promise<{ port: number; received: Buffer[]; close(): Promise<void> }> {
  const received: Buffer[] = [];
  const conns = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    conns.add(c);
    c.once('close', () => conns.delete(c));
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('end', () => {
      const all = Buffer.concat(chunks);
      received.push(all);
      c.end(Buffer.concat([Buffer.from(prefix), all]));
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    close: () => {
      for (const c of conns) c.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Connects, sends `parts` (with `gapMs` between), half-closes, returns the whole answer. */
function exchange(port: number, parts: (string | Buffer)[], gapMs = 0): Promise<{ answer: Buffer; localPort: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => {
      resolve({ answer: Buffer.concat(chunks), localPort: s.localPort! });
      s.end();
    });
    s.on('error', reject);
    s.once('connect', async () => {
      for (const p of parts) {
        s.write(p);
        if (gapMs) await sleep(gapMs);
      }
      s.end();
    });
  });
}

let dir: string;
let app: Awaited<ReturnType<typeof answerServer>>;
let workstation: Awaited<ReturnType<typeof answerServer>>;
let manager: FakeManager;
let agent: RunningAgent | undefined;
let agentPort: number;
const tokenPath = () => join(dir, 'token');

async function startTestAgent(extra: Record<string, string> = {}, okTimeoutMs?: number, opts: Partial<AgentOptions> = {}): Promise<RunningAgent> {
  agentPort = await freePort();
  const env = {
    ...(await testAgentEnv({ manager, appPort: app.port, agentPort, tokenPath: tokenPath() })),
    GREETING: 'hello world',
    ...extra,
  };
  agent = await startAgent(parseAgentEnv(env), env, { log, listenHost: '127.0.0.1', ...(okTimeoutMs ? { okTimeoutMs } : {}), ...opts });
  return agent;
}

const intercept = { id: 'i1', agentPort: 0, client: 'alice@laptop' };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tel-agent-'));
  writeFileSync(tokenPath(), 't1\n');
  app = await answerServer('app:');
  workstation = await answerServer('ws:');
  manager = new FakeManager(log);
  await manager.start();
});

afterEach(async () => {
  await agent?.close(100);
  agent = undefined;
  await Promise.all([manager.close(), app.close(), workstation.close()]);
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the agent with an active intercept on its port and waits until it follows it. */
async function intercepted(okTimeoutMs?: number): Promise<RunningAgent> {
  const a = await startTestAgent({}, okTimeoutMs);
  manager.setIntercepts([{ ...intercept, agentPort }]);
  await waitFor(() => a.control.routeFor(agentPort) !== undefined);
  return a;
}

describe('traffic agent', () => {
  it('arrives with the pod, the config hash and the app environment (no TEL_AGENT_*), token as Bearer', async () => {
    await startTestAgent();
    await waitFor(() => manager.watching === 1);
    expect(manager.arrives).toHaveLength(1);
    const { token, req } = manager.arrives[0]!;
    expect(token).toBe('t1');
    expect(req).toMatchObject({ pod: 'echo-1', podIp: '10.0.0.7', namespace: 'shop', workload: { kind: 'Deployment', name: 'echo' } });
    expect(req.configHash).toMatch(/^[0-9a-f]{16}$/);
    expect(req.environment.GREETING).toBe('hello world');
    expect(Object.keys(req.environment).filter((k) => k.startsWith('TEL_AGENT_'))).toEqual([]);
  });

  it('sends a connection without an intercept to the app', async () => {
    await startTestAgent();
    await waitFor(() => manager.watching === 1);
    const { answer } = await exchange(agentPort, ['GET / ', 'HTTP/1.1\r\n\r\n'], 5);
    expect(answer.toString()).toBe('app:GET / HTTP/1.1\r\n\r\n');
    expect(manager.tunnelRecords).toEqual([]);
  });

  it('resets a connection when the app refuses it (what the client would see without the agent)', async () => {
    await startTestAgent();
    await app.close();
    await expect(exchange(agentPort, ['nobody home'])).rejects.toThrow(/ECONNRESET/);
  });

  it('sends an intercepted connection to the manager: the exact line, framed bytes, and the answer back', async () => {
    await intercepted();
    manager.tunnelMode = { kind: 'record', answer: Buffer.from('from the laptop') };
    const { answer, localPort } = await exchange(agentPort, ['hello ', 'laptop'], 5);
    expect(answer.toString()).toBe('from the laptop');
    expect(manager.tunnelRecords).toHaveLength(1);
    expect(manager.tunnelRecords[0]!.line).toBe(`TEL-AGENT/1 s1 i1 127.0.0.1 ${localPort}`);
    expect(manager.tunnelRecords[0]!.payload.toString()).toBe('hello laptop');
    expect(app.received).toEqual([]);
  });

  it('on ERR hands the connection to the app, the early bytes first and in order', async () => {
    await intercepted();
    manager.tunnelMode = { kind: 'err', reason: 'no client', afterBytes: 9 };
    const { answer } = await exchange(agentPort, ['one,', 'two,', 'three,', 'four'], 10);
    expect(answer.toString()).toBe('app:one,two,three,four');
    expect(manager.tunnelRecords[0]!.payload.toString().startsWith('one,two,')).toBe(true);
  });

  it('hands the connection to the app when the manager refuses, closes, or stays silent', async () => {
    await intercepted(200);
    manager.tunnelMode = { kind: 'close' };
    expect((await exchange(agentPort, ['closed'])).answer.toString()).toBe('app:closed');
    manager.tunnelMode = { kind: 'silent' };
    const t0 = Date.now();
    expect((await exchange(agentPort, ['silent'])).answer.toString()).toBe('app:silent');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    // The manager's data port refusing connections.
    await manager.closeTunnel();
    expect((await exchange(agentPort, ['refused'])).answer.toString()).toBe('app:refused');
  });

  it('keeps at most KEEP_MAX bytes before OK, then waits; on ERR the app still gets everything in order', async () => {
    await intercepted();
    manager.tunnelMode = { kind: 'err', reason: 'gone', afterBytes: 2 * KEEP_MAX };
    const big = Buffer.alloc(KEEP_MAX * 3);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    const done = exchange(agentPort, [big]);
    await sleep(300);
    // The manager saw the first KEEP_MAX (give or take a read), never more: the agent stopped reading.
    const seen = manager.tunnelRecords[0]!.payload.length;
    expect(seen).toBeGreaterThanOrEqual(KEEP_MAX);
    expect(seen).toBeLessThan(KEEP_MAX + 256 * 1024);
    // The agent still waits for its answer: close that tunnel connection.
    await manager.closeTunnel();
    const { answer } = await done;
    expect(answer.subarray(4).equals(big)).toBe(true);
  });

  it('forgets intercepts at once when the watch breaks, then arrives again (with a fresh token)', async () => {
    const a = await intercepted();
    expect(manager.arrives.map((x) => x.token)).toEqual(['t1']);
    writeFileSync(tokenPath(), 't2\n');
    manager.tunnelMode = { kind: 'record', answer: Buffer.from('laptop') };
    manager.breakWatches();
    const t0 = Date.now();
    await waitFor(() => a.control.routeFor(agentPort) === undefined, 1000);
    expect(Date.now() - t0).toBeLessThan(80);
    // Until the agent is back, connections go to the app.
    expect((await exchange(agentPort, ['meanwhile'])).answer.toString()).toBe('app:meanwhile');
    await waitFor(() => a.control.routeFor(agentPort) !== undefined);
    expect(manager.arrives.map((x) => x.token)).toEqual(['t1', 't2']);
    expect(a.control.routeFor(agentPort)).toEqual({ kind: 'global', route: { agentSessionId: 's2', interceptId: 'i1' } });
    expect((await exchange(agentPort, ['again'])).answer.toString()).toBe('laptop');
  });

  it('retries a refused arrive with backoff, sending everything to the app meanwhile, and logs once', async () => {
    manager.refuseArrive = true;
    const lines: string[] = [];
    const a = await startTestAgent({}, undefined, { log: createLogger('agent', { level: 'info', stream: { write: (l: string) => lines.push(l) } }) });
    await waitFor(() => manager.arrives.length >= 3);
    expect((await exchange(agentPort, ['x'])).answer.toString()).toBe('app:x');
    manager.setIntercepts([{ ...intercept, agentPort }]);
    manager.refuseArrive = false;
    await waitFor(() => a.control.routeFor(agentPort) !== undefined);
    // 100, 200, 400 ms … : a handful of tries in a second, not hundreds.
    expect(manager.arrives.length).toBeLessThan(10);
    // One line per state change, none per retry.
    expect(lines.filter((l) => l.includes("can't reach the traffic manager"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('connected to the traffic manager'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('intercept i1 active'))).toHaveLength(1);
  });

  it('drops a manager connection that stops answering pings, and arrives again', async () => {
    // A relay between agent and manager that can be frozen: bytes stop, nothing closes.
    let frozen = false;
    const held = new Set<net.Socket>();
    const relay = net.createServer((down) => {
      const up = net.connect({ port: manager.apiPort, host: '127.0.0.1' });
      held.add(down).add(up);
      down.on('data', (d: Buffer) => frozen || up.write(d));
      up.on('data', (d: Buffer) => frozen || down.write(d));
      for (const [x, y] of [[down, up], [up, down]] as const) {
        x.on('error', () => undefined);
        x.on('close', () => y.destroy());
      }
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const a = await startTestAgent({ [AGENT_ENV.managerPort]: String((relay.address() as net.AddressInfo).port) }, undefined, { pingIntervalMs: 100 });
    manager.setIntercepts([{ ...intercept, agentPort }]);
    await waitFor(() => a.control.routeFor(agentPort) !== undefined);
    frozen = true;
    const t0 = Date.now();
    await waitFor(() => a.control.routeFor(agentPort) === undefined, 2000);
    expect(Date.now() - t0).toBeLessThan(400);
    frozen = false; // the new connection passes
    await waitFor(() => a.control.routeFor(agentPort) !== undefined);
    expect(manager.arrives).toHaveLength(2);
    for (const s of held) s.destroy();
    await new Promise((r) => relay.close(r));
  });

  it('follows watch events: an intercept that ends sends new connections to the app', async () => {
    const a = await intercepted();
    manager.setIntercepts([]);
    await waitFor(() => a.control.routeFor(agentPort) === undefined);
    expect((await exchange(agentPort, ['after'])).answer.toString()).toBe('app:after');
  });

  it('carries 200 concurrent connections through the intercept', async () => {
    await intercepted();
    manager.tunnelMode = { kind: 'splice', workstationPort: workstation.port };
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => exchange(agentPort, [`request ${i} `, 'x'.repeat(1000)])));
    results.forEach((r, i) => expect(r.answer.toString()).toBe(`ws:request ${i} ${'x'.repeat(1000)}`));
    expect(manager.tunnelRecords).toHaveLength(200);
    expect(app.received).toEqual([]);
  });

  it('answers /version and /healthz on its API port', async () => {
    const a = await startTestAgent();
    const s = http2.connect(`http://127.0.0.1:${a.api.port}`);
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        const r = s.request({ ':path': path });
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (body += d));
        r.on('end', () => resolve(body));
        r.on('error', reject);
        r.end();
      });
    expect(JSON.parse(await get('/version'))).toMatchObject({ name: 'Traffic Agent', apiVersion: 1 });
    expect(await get('/healthz')).toBe('ok');
    s.close();
  });

  it('on close stops accepting but lets an open connection finish', async () => {
    const a = await startTestAgent();
    await waitFor(() => manager.watching === 1);
    const s = net.connect({ port: agentPort, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    await new Promise((r) => s.once('connect', r));
    s.write('slow ');
    await waitFor(() => a.data.stats().active === 1);
    const closing = a.close(2000);
    await sleep(50);
    await expect(exchange(agentPort, ['new'])).rejects.toThrow(/ECONNREFUSED/);
    s.end('request');
    await new Promise((r) => s.once('end', r));
    expect(Buffer.concat(chunks).toString()).toBe('app:slow request');
    await closing;
    agent = undefined;
  });
});
