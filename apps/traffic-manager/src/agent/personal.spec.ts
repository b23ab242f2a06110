// Personal intercepts in the agent on loopback: the fake manager's watch gives a port two filtered
// intercepts, its data port splices each to its own workstation server; the app is a real HTTP
// server. Requests are routed one by one, on keep-alive connections too.
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import { startAgent, type RunningAgent } from './run.js';
import { parseAgentEnv } from './settings.js';
import { FakeManager } from './testing/fake-manager.js';
import { freePort } from './testing/free-port.js';
import { testAgentEnv } from './testing/agent-env.js';

const log = createLogger('agent-test', { level: 'error', stream: process.stdout });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An HTTP server answering `<name> <method> <path> <body length>`. */
async function named(name: string): Promise<{ port: number; server: http.Server }> {
  const server = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (b: Buffer) => (n += b.length));
    req.on('end', () => res.end(`${name} ${req.method} ${req.url} ${n}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, server };
}

let dir: string;
let manager: FakeManager;
let agent: RunningAgent | undefined;
let servers: http.Server[];
let agentPort: number;

async function setup(): Promise<{ app: number; alice: number; bob: number }> {
  const [app, alice, bob] = await Promise.all([named('app'), named('alice'), named('bob')]);
  servers = [app.server, alice.server, bob.server];
  manager = new FakeManager(log);
  await manager.start();
  manager.tunnelMode = { kind: 'splice', workstationPort: (id) => (id === 'ia' ? alice.port : bob.port) };
  agentPort = await freePort();
  const env = await testAgentEnv({ manager, appPort: app.port, agentPort, tokenPath: join(dir, 'token') });
  agent = await startAgent(parseAgentEnv(env), env, { log, listenHost: '127.0.0.1', okTimeoutMs: 300 });
  return { app: app.port, alice: alice.port, bob: bob.port };
}

async function personal(): Promise<void> {
  manager.setIntercepts([
    { id: 'ia', agentPort, client: 'alice@a', filter: { headers: ['x-dev=alice'] } },
    { id: 'ib', agentPort, client: 'bob@b', filter: { headers: ['x-dev=b.*'], pathPrefix: '/api/' } },
  ]);
  const until = Date.now() + 3000;
  while (agent!.control.routeFor(agentPort)?.kind !== 'personal') {
    if (Date.now() > until) throw new Error('the agent did not follow the intercepts');
    await sleep(5);
  }
}

/** One request on `agentOpts`'s connections; resolves with the answer's body. */
function get(path: string, headers: Record<string, string>, httpAgent: http.Agent, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: agentPort, path, method: body ? 'POST' : 'GET', headers, agent: httpAgent }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(`${res.statusCode} ${text}`));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tel-agent-'));
  writeFileSync(join(dir, 'token'), 't1\n');
});

afterEach(async () => {
  await agent?.close(100);
  agent = undefined;
  for (const s of servers) s.closeAllConnections();
  await Promise.all([manager.close(), ...servers.map((s) => new Promise((r) => s.close(r)))]);
  rmSync(dir, { recursive: true, force: true });
});

describe('personal intercepts in the agent', () => {
  it('routes each request of one keep-alive connection by its own headers and path', async () => {
    await setup();
    await personal();
    const one = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const got: string[] = [];
    for (const [path, h] of [
      ['/a', { 'x-dev': 'alice' }],
      ['/a', {}],
      ['/api/x', { 'x-dev': 'bob' }],
      ['/other', { 'x-dev': 'bob' }],
      ['/b', { 'x-dev': 'ALICE' }],
      ['/c', { 'x-dev': 'alice' }],
    ] as const) {
      got.push(await get(path, h, one));
    }
    expect(got).toEqual(['200 alice GET /a 0', '200 app GET /a 0', '200 bob GET /api/x 0', '200 app GET /other 0', '200 app GET /b 0', '200 alice GET /c 0']);
    expect(await get('/up', { 'x-dev': 'alice' }, one, 'x'.repeat(100_000))).toBe('200 alice POST /up 100000');
    expect(agent!.data.stats().routed).toBe(1); // all of it on one connection
    one.destroy();
  });

  it('sends an intercept’s requests to the app once it ends, and while its workstation is away', async () => {
    const ports = await setup();
    await personal();
    const one = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect(await get('/', { 'x-dev': 'alice' }, one)).toBe('200 alice GET / 0');
    manager.setIntercepts([{ id: 'ib', agentPort, client: 'bob@b', filter: { headers: ['x-dev=bob'] } }]);
    await sleep(100);
    expect(await get('/', { 'x-dev': 'alice' }, one)).toBe('200 app GET / 0');
    expect(await get('/', { 'x-dev': 'bob' }, one)).toBe('200 bob GET / 0');
    // Bob's workstation refuses, then the manager says ERR: the request goes to the app, never a 5xx.
    manager.tunnelMode = { kind: 'err', reason: 'no client', afterBytes: 0 };
    const fresh = new http.Agent({ keepAlive: false });
    expect(await get('/', { 'x-dev': 'bob' }, fresh)).toBe('200 app GET / 0');
    manager.tunnelMode = { kind: 'silent' };
    expect(await get('/', { 'x-dev': 'bob' }, fresh)).toBe('200 app GET / 0');
    expect(ports.app).toBeGreaterThan(0);
    one.destroy();
  });

  it('sends what is not HTTP to the app untouched', async () => {
    await setup();
    await personal();
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ port: agentPort, host: '127.0.0.1' });
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => (text += d));
      s.on('end', () => resolve(text));
      s.on('error', reject);
      s.end('\x16\x03\x01 not http at all\r\n\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/); // node's HTTP server's own answer to garbage
  });
});
