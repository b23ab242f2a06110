// One intercepted connection end to end on loopback, with the real manager pieces (API server,
// intercept state, TCP tunnel with the park verb, agent tunnel relay) and the real user daemon
// pieces (manager session, intercept list, parker); the agent is played by a raw socket speaking
// its data-port protocol, the injector by a fake. The cluster e2e covers the same path for real.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_TUNNEL_PREFIX, type AgentIntercept } from '@tel/contracts';
import { createLogger } from '@tel/logging';
import { startAgentTunnel, type AgentTunnelServer } from '../../../../traffic-manager/src/manager/intercept-relay.js';
import { startManagerServer, type ManagerServer } from '../../../../traffic-manager/src/manager/server.js';
import { startTcpStreamServer, type TcpStreamServer } from '../../../../traffic-manager/src/manager/tcp-stream.js';
import { FakeInstaller, service, template } from '../../../../traffic-manager/src/manager/testing/fake-installer.js';
import { ManagerApi } from '../manager-api.js';
import { ManagerSession } from '../manager-session.js';
import { UserIntercepts } from './intercepts.js';
import { Parker } from './parker.js';

const log = createLogger(undefined);
const frame = (s: string) => {
  const b = Buffer.from(s);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length);
  return Buffer.concat([h, b]);
};
const END = Buffer.alloc(4);

/** Everything the agent side received until the manager closed, as text with frames unwrapped. */
function agentExchange(port: number, line: string, payload: Buffer[]): Promise<{ head: string; body: string; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('end', () => s.end());
    s.on('close', () => {
      const all = Buffer.concat(chunks);
      const nl = all.indexOf(10);
      const head = all.subarray(0, nl).toString();
      let rest = all.subarray(nl + 1);
      let body = '';
      let ended = false;
      while (rest.length >= 4) {
        const n = rest.readUInt32BE(0);
        if (n === 0) {
          ended = true;
          break;
        }
        body += rest.subarray(4, 4 + n).toString();
        rest = rest.subarray(4 + n);
      }
      resolve({ head, body, ended });
    });
    s.write(Buffer.concat([Buffer.from(line + '\n'), ...payload]));
  });
}

describe('an intercepted connection: agent → manager → parked connection → workstation port', () => {
  let dir: string;
  let manager: ManagerServer;
  let tcp: TcpStreamServer;
  let agentTunnel: AgentTunnelServer;
  let relay: net.Server;
  let laptop: net.Server;
  let laptopPort: number;
  let api: ManagerApi;
  let session: ManagerSession;
  let intercepts: UserIntercepts;
  const installer = new FakeInstaller();
  installer.add({ namespace: 'default', kind: 'Deployment', name: 'web' }, template('web', 8080, 'http'), 1);
  installer.services = [service('web', 80, 'http')];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tel-icpt-'));
    manager = await startManagerServer({ installer, port: 0, version: { name: 'Traffic Manager', version: 'v2.90.0', apiVersion: 1 }, clusterInfo: () => new Promise(() => undefined), log });
    tcp = await startTcpStreamServer({ port: 0, dialTimeoutMs: 1000, log, onPark: (c, park) => manager.parked.park(c, park) });
    agentTunnel = await startAgentTunnel({ port: 0, host: '127.0.0.1', agents: manager.agents, intercepts: manager.intercepts, parked: manager.parked, log });
    // The API socket, as the port-forward serves it to the user daemon.
    relay = net.createServer((c) => c.pipe(net.connect(manager.port, '127.0.0.1')).pipe(c));
    await new Promise<void>((r) => relay.listen(join(dir, 'manager.socket'), r));
    laptop = net.createServer({ allowHalfOpen: true }, (c) => {
      let got = '';
      c.on('data', (d: Buffer) => (got += d.toString()));
      c.on('end', () => c.end(`laptop got ${got} from ${c.remoteAddress}`));
    });
    await new Promise<void>((r) => laptop.listen(0, '127.0.0.1', r));
    laptopPort = (laptop.address() as net.AddressInfo).port;
    api = new ManagerApi(join(dir, 'manager.socket'), 5000, 'config.yml');
    const version = await api.client.version({});
    session = new ManagerSession({ api, version, client: { user: 'ann', host: 'lap', version: 'v2.90.0' }, log });
    const parker = new Parker({ open: async () => ({ stream: net.connect({ port: tcp.port, host: "127.0.0.1", allowHalfOpen: true }), generation: 1 }), sessionId: () => session.sessionId(), localPort: (id) => intercepts.localPort(id), log, idle: 2 });
    intercepts = new UserIntercepts({ api, session, parker, log, configFile: 'config.yml' });
    session.onArrive((id) => intercepts.arrived(id));
    await session.start();
  });

  afterEach(async () => {
    intercepts.close();
    await session.stop();
    api.close();
    await Promise.all([manager.close(), tcp.close(), agentTunnel.close()]);
    relay.close();
    laptop.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves through the workstation, falls back with ERR when the laptop refuses, and ends with the session', async () => {
    const progress: string[] = [];
    const added = intercepts.add({ name: 'web', namespace: 'default', workload: 'web', localPort: laptopPort }, { emit: (e) => progress.push(e.message), signal: new AbortController().signal, timeoutMs: 5000 });
    await expect.poll(() => installer.calls.find((c) => c.startsWith('watch web'))).toBeDefined();
    const hash = installer.calls.find((c) => c.startsWith('watch web'))!.split(' ')[2]!;
    installer.report('web', { podsWanted: 1, podsReady: 1, done: true, message: 'rollout of deployment/web: 1/1 pods ready with the agent' });
    // The agent of the new pod arrives and watches: the intercept is active, the agent is told.
    const told: AgentIntercept[][] = [];
    const { agentSessionId } = manager.agents.arrive({ pod: 'web-1', podIp: '10.0.0.5', namespace: 'default', workload: { kind: 'Deployment', name: 'web' }, version: 'v2.90.0', configHash: hash, environment: { GREETING: 'hi there' } }, { namespace: 'default', serviceAccount: 'default' });
    manager.agents.watch(agentSessionId, { send: (e) => told.push(e.intercepts), signal: new AbortController().signal });
    const info = await added;
    expect(info).toMatchObject({ state: 'active', environment: { GREETING: 'hi there' }, service: 'web', servicePort: 80 });
    expect(progress).toContain('rollout of deployment/web: 1/1 pods ready with the agent');
    expect(told.at(-1)).toEqual([{ id: info.id, agentPort: 9901, client: 'ann@lap' }]);
    await expect.poll(() => manager.parked.count()).toBe(2);

    // A connection the agent carries: early data right after its line, the answer comes back framed.
    const ok = await agentExchange(agentTunnel.port, `${AGENT_TUNNEL_PREFIX} ${agentSessionId} ${info.id} 10.0.0.9 41000`, [frame('hello'), END]);
    expect(ok).toEqual({ head: 'OK', body: 'laptop got hello from 127.0.0.1', ended: true });
    // Parks are replenished in batches: one of two used is not yet replaced.
    await expect.poll(() => manager.parked.count()).toBe(1);

    // Unknown agent session and unknown intercept: refused by the manager, the agent uses the app.
    expect((await agentExchange(agentTunnel.port, `${AGENT_TUNNEL_PREFIX} nope ${info.id} 10.0.0.9 41000`, [])).head).toBe('ERR unknown agent session');
    expect((await agentExchange(agentTunnel.port, `${AGENT_TUNNEL_PREFIX} ${agentSessionId} nope 10.0.0.9 41000`, [])).head).toBe('ERR no such active intercept');

    // Nothing listens on the workstation port any more: ERR from the user daemon, naming the port.
    await new Promise<void>((r) => laptop.close(() => r()));
    const refused = await agentExchange(agentTunnel.port, `${AGENT_TUNNEL_PREFIX} ${agentSessionId} ${info.id} 10.0.0.9 41001`, [frame('x'), END]);
    expect(refused.head).toMatch(new RegExp(`^ERR nothing answers on localhost:${laptopPort} on the workstation \\(ECONNREFUSED\\)$`));
    // Both used: the batch refills them.
    await expect.poll(() => manager.parked.count()).toBe(2);

    // Leave: the agent is told at once and the parked connections go.
    expect(await intercepts.remove('web')).toBe(true);
    expect(told.at(-1)).toEqual([]);
    await expect.poll(() => manager.parked.count()).toBe(0);
    expect((await agentExchange(agentTunnel.port, `${AGENT_TUNNEL_PREFIX} ${agentSessionId} ${info.id} 10.0.0.9 41002`, [])).head).toBe('ERR no such active intercept');
  });

  it('refuses a second intercept of the same name in this session, changing nothing', async () => {
    const first = intercepts.add({ name: 'web', namespace: 'default', workload: 'web', localPort: laptopPort }, { emit: () => undefined, signal: new AbortController().signal, timeoutMs: 300 });
    await expect(intercepts.add({ name: 'web', namespace: 'default', workload: 'web', localPort: 1 }, { emit: () => undefined, signal: new AbortController().signal, timeoutMs: 300 })).rejects.toThrow('you already have an intercept named web');
    await expect(first).rejects.toThrow(/installing the traffic agent timed out after 300ms/);
    expect(intercepts.list()).toEqual([]);
    await expect.poll(() => manager.intercepts.list().length).toBe(0);
  });
});
