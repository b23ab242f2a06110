// The contract-derived manager client against the real manager API server (traffic-manager's
// startManagerServer) on a unix socket, which is what the port-forward socket is to the user daemon.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGER_CAPABILITIES, type SessionsEvent } from '@tel/contracts';
import { formatError, type TelError } from '@tel/errors';
import { createLogger } from '@tel/logging';
import { FakeInstaller } from '../../../traffic-manager/src/manager/testing/fake-installer.js';
import { startManagerServer, type ManagerServer } from '../../../traffic-manager/src/manager/server.js';
import { ManagerApi, ManagerApiError, isUnknownSession } from './manager-api.js';

let dir: string;
let socket: string;
let manager: ManagerServer;
let clusterInfoAnswers = true;
const client = { user: 'dev', host: 'ws', version: 'v2.90.0' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tel-mapi-'));
  socket = join(dir, 'manager.socket');
  manager = await startManagerServer({ installer: new FakeInstaller(),
    port: 0,
    host: '127.0.0.1',
    version: { name: 'Traffic Manager', version: 'v2.90.0', apiVersion: 1 },
    // Never answers while clusterInfoAnswers is false: the client's timeout must fire.
    clusterInfo: () => (clusterInfoAnswers ? Promise.resolve({ podSubnets: ['10.0.0.0/16'], serviceSubnets: ['10.96.0.0/12'], clusterDomain: 'cluster.local' }) : new Promise(() => undefined)),
    log: createLogger(undefined),
  });
  // The port-forward socket stands in as a unix socket relaying to the manager's loopback port.
  const net = await import('node:net');
  const relay = net.createServer((c) => c.pipe(net.connect(manager.port, '127.0.0.1')).pipe(c));
  await new Promise<void>((r) => relay.listen(socket, r));
  afterAll(() => relay.close());
});

afterAll(async () => {
  await manager?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ManagerApi (contract-derived client)', () => {
  it('calls unary methods over one HTTP/2 connection and records when the manager last answered', async () => {
    const api = new ManagerApi(socket, 2000, '/cfg.yml');
    const before = Date.now();
    expect(await api.client.version({})).toEqual({ name: 'Traffic Manager', version: 'v2.90.0', apiVersion: 1, capabilities: [...MANAGER_CAPABILITIES] });
    expect((await api.client.clusterInfo({})).podSubnets).toEqual(['10.0.0.0/16']);
    expect(api.lastAnswerAt).toBeGreaterThanOrEqual(before);
    api.close();
  });

  it('times out with a message naming timeouts.trafficManagerAPI, and recovers for the next call', async () => {
    const api = new ManagerApi(socket, 200, '/home/u/.config/telepresence/config.yml');
    clusterInfoAnswers = false;
    const err = (await api.client.clusterInfo({}).catch((e: unknown) => e)) as TelError;
    clusterInfoAnswers = true;
    expect(formatError(err.toInfo())).toBe('the traffic manager API timed out after 200ms (clusterInfo (GET /cluster-info)); raise timeouts.trafficManagerAPI in /home/u/.config/telepresence/config.yml');
    expect((await api.client.version({})).version).toBe('v2.90.0');
    api.close();
  });

  it('an error the manager answers keeps its code: unknown-session is recognisable without reading text', async () => {
    const api = new ManagerApi(socket, 2000, '/cfg.yml');
    const err = await api.client.remain({ sessionId: 'gone' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManagerApiError);
    expect(err).toMatchObject({ code: 'unknown-session', category: 'cluster', message: 'the traffic manager has no session "gone"' });
    expect(isUnknownSession(err)).toBe(true);
    expect(isUnknownSession(new Error('unknown-session'))).toBe(false);
    api.close();
  });

  it('watches sessions: the current list first, then each change; cancel ends the watch cleanly', async () => {
    const api = new ManagerApi(socket, 2000, '/cfg.yml');
    const events: SessionsEvent[] = [];
    const watch = api.client.watchSessions({}, (e) => events.push(e));
    await expect.poll(() => events.length).toBe(1);
    const { sessionId } = await api.client.arrive({ client, desired: { intercepts: [] } });
    await expect.poll(() => events.length).toBe(2);
    await api.client.depart({ sessionId });
    await expect.poll(() => events.length).toBe(3);
    watch.cancel();
    await watch.done;
    expect(events.map((e) => [e.reason, e.sessions.map((s) => s.sessionId)])).toEqual([
      ['snapshot', []],
      ['arrived', [sessionId]],
      ['departed', []],
    ]);
    expect((await api.client.listSessions({})).sessions).toEqual([]);
    api.close();
  });
});
