// Who may use the root daemon, on a real daemon and real uids: its socket is 0600 and owned by the
// session's user, each connection's SO_PEERCRED must be root or that user, and the manager socket
// it is handed must be served by that user. The daemon runs in a throwaway namespace.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot } from '../testing/clients.js';
import { startDaemon, type RunningDaemon } from '../testing/daemon.js';
import { Netns, run } from '../testing/netns.js';
import { startTunnelServer, type TunnelServer } from '../testing/tunnel-server.js';

const OWNER_UID = 4242;

/** A raw request on the daemon socket as another uid (no tsx needed): prints the answer or errno code. */
const RAW_CLIENT = `
const s = require('net').connect(process.argv[1]);
let b = '';
s.on('connect', () => s.write(JSON.stringify({ id: 1, method: 'version', params: {} }) + '\\n'));
const answer = () => { console.log(JSON.stringify({ connected: true, answer: b ? JSON.parse(b.split('\\n')[0]) : null })); process.exit(0); };
s.on('data', (c) => { b += c; if (b.includes('\\n')) answer(); });
s.on('close', answer);
s.on('error', (e) => { console.log(JSON.stringify({ connected: false, code: e.code })); process.exit(0); });
`;

async function asUid(uid: number, socketPath: string): Promise<any> {
  const out = await run('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, '-e', RAW_CLIENT, socketPath]);
  return JSON.parse(out.trim());
}

let dir: string;
let ws: Netns;
let tunnel: TunnelServer;
let daemon: RunningDaemon;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tpr-access-'));
  chmodSync(dir, 0o755); // other uids must reach the socket to be refused by it
  mkdirSync(join(dir, 'run'), { mode: 0o755 });
  chmodSync(join(dir, 'run'), 0o755);
  ws = await Netns.create('ws');
  // Served by root (this process), not by the session's user.
  tunnel = await startTunnelServer(join(dir, 'manager.socket'), () => null, join(dir, 'manager-tcp.socket'));
  daemon = await startDaemon(ws, dir, OWNER_UID);
}, 60_000);

afterAll(async () => {
  if (daemon && daemon.proc.exitCode === null && daemon.proc.signalCode === null) daemon.proc.kill('SIGKILL');
  await tunnel?.close();
  await ws?.delete();
  rmSync(dir, { recursive: true, force: true });
});

describe('root daemon socket access', () => {
  it('the owner and root are served', async () => {
    const owner = await asUid(OWNER_UID, daemon.socketPath);
    expect(owner.answer.result).toMatchObject({ name: 'Root Daemon' });
    const c = await daemon.client();
    expect(await c.version({})).toMatchObject({ name: 'Root Daemon' });
    c.close();
  });

  it('another user cannot even open the socket (mode 0600, owned by the session user)', async () => {
    expect(await asUid(65534, daemon.socketPath)).toEqual({ connected: false, code: 'EACCES' });
  });

  it('another user is refused by peer credentials with a clear error, even if the socket mode is loosened', async () => {
    chmodSync(daemon.socketPath, 0o666);
    const r = await asUid(65534, daemon.socketPath);
    chmodSync(daemon.socketPath, 0o600);
    expect(r.connected).toBe(true);
    expect(r.answer.error.category).toBe('user');
    expect(r.answer.error.message).toMatch(/permission denied: .* serves only root and the user who started it, not uid 65534/);
    expect(r.answer.error.hint).toMatch(/quit -s/);
  });

  it("refuses a manager socket not served by the session's user, before touching the network", async () => {
    const before = await snapshot(ws);
    const c = await daemon.client();
    const err = await c
      .connectNetwork({ managerSocket: join(dir, 'manager.socket'), tcpTunnelSocket: join(dir, 'manager-tcp.socket'), subnets: ['198.19.0.0/16'], excluded: [], tunAddress: '198.18.255.254' })
      .then(() => new Error('connected'), (e: unknown) => e as Error);
    c.close();
    expect(err).toMatchObject({ category: 'user' });
    expect(err.message).toMatch(/manager socket .* is served by uid 0 \(pid \d+\), not by the session's user \(uid 4242\)/);
    expect(tunnel.tcpDestinations).toEqual([]);
    expect(await snapshot(ws)).toEqual(before);
  });

  it('quits cleanly', async () => {
    await daemon.quit();
  });
});
