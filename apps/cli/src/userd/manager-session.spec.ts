// The user daemon's manager session against the real manager server: capabilities decide
// compatibility (one test per pairing the install policy allows), arrive/heartbeat/depart, and a
// manager restart answered by arriving again with the desired state.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MANAGER_CAPABILITIES, type ManagerVersion } from '@tel/contracts';
import { EXIT_CODES, formatError, toErrorInfo } from '@tel/errors';
import { createLogger } from '@tel/logging';
import { FakeInstaller } from '../../../traffic-manager/src/manager/testing/fake-installer.js';
import { startManagerServer, type ManagerServer } from '../../../traffic-manager/src/manager/server.js';
import { checkCompatibility } from '../install/policy.js';
import { ManagerApi } from './manager-api.js';
import { ManagerSession, REQUIRED_CAPABILITIES, requireCapabilities } from './manager-session.js';

const log = createLogger(undefined);
const version = (v: string, capabilities?: string[]): ManagerVersion => ({ name: 'Traffic Manager', version: v, apiVersion: 1, ...(capabilities ? { capabilities } : {}) });

describe('capabilities, for each pairing the install policy allows', () => {
  const client = { version: 'v2.5.3', apiVersion: 1 };

  it('same version: the manager of this build announces everything this client needs', () => {
    expect(checkCompatibility(client, { version: 'v2.5.3', apiVersion: 1 }).verdict).toBe('same');
    expect(() => requireCapabilities(version('v2.5.3', [...MANAGER_CAPABILITIES]))).not.toThrow();
    expect(MANAGER_CAPABILITIES).toEqual(expect.arrayContaining([...REQUIRED_CAPABILITIES]));
  });

  it('same series, newer manager: extra capabilities it announces are ignored', () => {
    expect(checkCompatibility(client, { version: 'v2.5.9', apiVersion: 1 }).verdict).toBe('compatible');
    expect(() => requireCapabilities(version('v2.5.9', [...MANAGER_CAPABILITIES, 'intercepts', 'something-new']))).not.toThrow();
  });

  it('same series, a manager lacking what this client needs: one line naming it and what to do, a cluster exit code', () => {
    expect(checkCompatibility(client, { version: 'v2.5.0', apiVersion: 1 }).verdict).toBe('compatible');
    const err = (() => {
      try {
        requireCapabilities(version('v2.5.0', ['tcp-stream', 'udp', 'dns']));
      } catch (e) {
        return toErrorInfo(e);
      }
      return undefined;
    })();
    expect(formatError(err!)).toBe(`the traffic manager v2.5.0 lacks the "sessions" capability this client needs; upgrade it with 'telepresence helm upgrade'`);
    expect(EXIT_CODES[err!.category]).toBe(EXIT_CODES.cluster);
    expect(() => requireCapabilities(version('v2.5.0'))).toThrow('the traffic manager v2.5.0 lacks the "tcp-stream", "udp", "dns", "sessions" capabilities this client needs');
  });
});

describe('ManagerSession against a real manager', () => {
  let dir: string;
  let socket: string;
  let relay: net.Server;
  let manager: ManagerServer;
  /** Where the relay (standing in for the port-forward) sends connections: the current manager. */
  let target = 0;
  /** While true the relay cuts every connection, as a port-forward to a pod going away does. */
  let cutting = false;
  const open = new Set<net.Socket>();
  const cut = () => {
    cutting = true;
    for (const c of open) c.destroy();
  };
  const start = async () => {
    manager = await startManagerServer({ installer: new FakeInstaller(), port: 0, version: version('v2.90.0'), clusterInfo: () => new Promise(() => undefined), log, sessionLeaseMs: 1500 });
    target = manager.port;
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tel-msess-'));
    socket = join(dir, 'manager.socket');
    await start();
    cutting = false;
    relay = net.createServer((c) => {
      if (cutting) return void c.destroy();
      open.add(c);
      c.on('close', () => open.delete(c));
      const up = net.connect(target, '127.0.0.1');
      up.on('error', () => c.destroy());
      c.on('error', () => up.destroy());
      c.pipe(up).pipe(c);
    });
    await new Promise<void>((r) => relay.listen(socket, r));
  });
  afterEach(async () => {
    relay.close();
    await manager.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('arrives, heartbeats past the lease, and departs on stop', async () => {
    const api = new ManagerApi(socket, 2000, '/cfg.yml');
    const s = new ManagerSession({ api, version: await api.client.version({}), client: { user: 'dev', host: 'ws', version: 'v2.90.0' }, log });
    const lease = await s.start();
    expect(lease.leaseMs).toBe(1500);
    await new Promise((r) => setTimeout(r, 2500)); // longer than the lease: only heartbeats keep it
    expect((await api.client.listSessions({})).sessions.map((x) => x.sessionId)).toEqual([lease.sessionId]);
    expect(s.status()).toMatchObject({ sessionId: lease.sessionId, managerVersion: 'v2.90.0', arrivals: 1 });
    expect(Date.now() - Date.parse(s.status().lastAnswerAt!)).toBeLessThan(1000);
    await s.stop();
    expect((await api.client.listSessions({})).sessions).toEqual([]);
    api.close();
  });

  it('a restarted manager (unknown session) is arrived at again with the desired state replayed', async () => {
    const api = new ManagerApi(socket, 2000, '/cfg.yml');
    const s = new ManagerSession({ api, version: await api.client.version({}), client: { user: 'dev', host: 'ws', version: 'v2.90.0' }, log });
    const first = await s.start();
    await s.setDesired({ intercepts: [{ name: 'web', namespace: 'default', workload: 'web', localPort: 8080 }] });
    await manager.close(); // the manager pod goes away ...
    await start(); // ... and a new one, which knows no session, takes its place
    await expect.poll(() => s.status().arrivals, { timeout: 5000, interval: 100 }).toBe(2);
    const sessions = (await api.client.listSessions({})).sessions;
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.sessionId).not.toBe(first.sessionId);
    expect(sessions[0]!.sessionId).toBe(s.status().sessionId);
    expect(sessions[0]!.desired).toEqual({ intercepts: [{ name: 'web', namespace: 'default', workload: 'web', localPort: 8080 }] });
    await s.stop();
    api.close();
  });

  it('leave during a manager restart: setDesired resolves at once, and the new manager gets the state with the arrive', async () => {
    const api = new ManagerApi(socket, 2000, '/cfg.yml');
    const s = new ManagerSession({ api, version: await api.client.version({}), client: { user: 'dev', host: 'ws', version: 'v2.90.0' }, log });
    await s.start();
    await s.setDesired({ intercepts: [{ name: 'web', namespace: 'default', workload: 'web', localPort: 8080 }] });
    cut();
    await manager.close(); // the manager pod goes away; the user leaves meanwhile
    await expect(s.setDesired({ intercepts: [] })).resolves.toBeUndefined();
    cutting = false;
    await start();
    await expect.poll(() => s.status().arrivals, { timeout: 5000, interval: 100 }).toBe(2);
    const sessions = (await api.client.listSessions({})).sessions;
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.desired).toEqual({ intercepts: [] });
    await s.stop();
    api.close();
  });

  it('a setDesired the same manager did not answer is sent again with the next heartbeat', async () => {
    const api = new ManagerApi(socket, 2000, '/cfg.yml');
    const s = new ManagerSession({ api, version: await api.client.version({}), client: { user: 'dev', host: 'ws', version: 'v2.90.0' }, log });
    const lease = await s.start();
    cut(); // the port-forward breaks; the manager itself keeps running
    await expect(s.setDesired({ intercepts: [{ name: 'web', namespace: 'default', workload: 'web', localPort: 8080 }] })).resolves.toBeUndefined();
    expect((await listThroughManager()).sessions[0]!.desired).toEqual({ intercepts: [] });
    cutting = false;
    await expect.poll(async () => (await listThroughManager()).sessions[0]!.desired, { timeout: 5000, interval: 100 }).toEqual({ intercepts: [{ name: 'web', namespace: 'default', workload: 'web', localPort: 8080 }] });
    expect(s.status()).toMatchObject({ sessionId: lease.sessionId, arrivals: 1 });
    await s.stop();
    api.close();
  });

  it('a setDesired the manager refuses still rejects', async () => {
    const api = new ManagerApi(socket, 2000, '/cfg.yml');
    const s = new ManagerSession({ api, version: await api.client.version({}), client: { user: 'dev', host: 'ws', version: 'v2.90.0' }, log });
    await s.start();
    await expect(s.setDesired({ intercepts: [{ name: 'Not A Name', namespace: 'default', workload: 'web', localPort: 8080 }] })).rejects.toThrow();
    await s.stop();
    api.close();
  });

  /** The manager's sessions asked directly, not through the relay being cut. */
  async function listThroughManager() {
    const direct = net.createServer((c) => {
      const up = net.connect(target, '127.0.0.1');
      up.on('error', () => c.destroy());
      c.on('error', () => up.destroy());
      c.pipe(up).pipe(c);
    });
    const path = join(dir, `direct-${Math.random()}.socket`);
    await new Promise<void>((r) => direct.listen(path, r));
    const api = new ManagerApi(path, 2000, '/cfg.yml');
    try {
      return await api.client.listSessions({});
    } finally {
      api.close();
      direct.close();
    }
  }
});
