// End to end on a real kernel: the root daemon runs in a "workstation" namespace joined by a veth
// to a "cluster" namespace; routed traffic must reach the test's tunnel server (not the veth),
// never-proxied traffic must take the veth, and quit/kill -9/SIGTERM/a failed connect leave no trace.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkConfig } from '@tel/contracts';
import { startDaemon, type RunningDaemon } from '../testing/daemon.js';
import { TCP_CLIENT, UDP_CLIENT, nodeIn, snapshot as snapshotOf, type Snapshot } from '../testing/clients.js';
import { Netns } from '../testing/netns.js';
import { startTunnelServer, type TunnelServer } from '../testing/tunnel-server.js';

/**
 * The network daemons serve root: the test's tunnel server runs in this (root) process, and the
 * manager socket must be served by the session's user.
 */
const NETWORK_OWNER_UID = 0;
const ROUTED_IP = '198.19.1.10';
const NEVER_PROXY_IP = '198.19.1.20';
const TUN_ADDRESS = '198.18.255.254';

let dir: string;
let ws: Netns; // the workstation
let cluster: Netns;
let tunnel: TunnelServer;
let startTunnel: () => Promise<TunnelServer>;
let echo: net.Server;
let sink: net.Server;
let streamEcho: net.Server;
const daemons: RunningDaemon[] = [];
const children: { kill(sig?: NodeJS.Signals): boolean }[] = [];

const nodeInWs = (code: string, ...args: string[]) => nodeIn(ws, code, ...args);

const UDP_MULTI = `
const dgram = require('dgram');
const ip = process.argv[1];
const a = dgram.createSocket('udp4'), b = dgram.createSocket('udp4');
const got = { a: [], b: [] };
let n = 0;
const check = () => { if (++n === 5) { got.a.sort(); console.log(JSON.stringify({ a: got.a.filter((m) => m.startsWith('echo:a')), b: got.b })); process.exit(0); } };
a.on('message', (m) => { got.a.push(m.toString()); check(); });
b.on('message', (m) => { got.b.push(m.toString()); check(); });
a.bind(() => { for (const m of ['a1', 'a2', 'a3']) a.send(m, 6000, ip); a.send('x', 6001, ip); });
b.bind(() => b.send('b1', 6000, ip));
setTimeout(() => { console.log(JSON.stringify({ timeout: got })); process.exit(0); }, 5000).unref();
`;

/** Everything routing-related in the workstation namespace, for before/after comparison. */
const snapshot = () => snapshotOf(ws);

function config(): NetworkConfig {
  return {
    managerSocket: join(dir, 'manager.socket'),
    tcpTunnelSocket: join(dir, 'manager-tcp.socket'),
    subnets: ['198.19.0.0/16'],
    excluded: [{ cidr: `${NEVER_PROXY_IP}/32`, reason: 'never-proxy' }],
    tunAddress: TUN_ADDRESS,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tpr-rootd-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'run'), { mode: 0o755 });
  chmodSync(join(dir, 'run'), 0o755);
  ws = await Netns.create('ws');
  cluster = await Netns.create('cl');
  // The veth is created inside the workstation namespace, its peer moved straight to the cluster:
  // nothing ever appears in the host namespace.
  await ws.exec('ip', ['link', 'add', 'tpr-ws', 'type', 'veth', 'peer', 'name', 'tpr-cl', 'netns', cluster.name]);
  // IPv4 only: an IPv6 link-local address appearing after DAD would make snapshots flaky.
  await ws.exec('sysctl', ['-qw', 'net.ipv6.conf.tpr-ws.disable_ipv6=1']);
  await cluster.exec('sysctl', ['-qw', 'net.ipv6.conf.tpr-cl.disable_ipv6=1']);
  await ws.exec('ip', ['address', 'add', '198.18.0.1/30', 'dev', 'tpr-ws']);
  await ws.exec('ip', ['link', 'set', 'tpr-ws', 'up']);
  await cluster.exec('ip', ['address', 'add', '198.18.0.2/30', 'dev', 'tpr-cl']);
  await cluster.exec('ip', ['address', 'add', `${NEVER_PROXY_IP}/32`, 'dev', 'lo']);
  await cluster.exec('ip', ['link', 'set', 'tpr-cl', 'up']);
  await cluster.exec('ip', ['route', 'add', '198.18.0.0/15', 'via', '198.18.0.1']);
  // The workstation's own path to the "cluster" range: what never-proxied addresses must use.
  await ws.exec('ip', ['route', 'add', '198.19.0.0/16', 'via', '198.18.0.2']);
  // A server in the cluster namespace answering "direct:<msg>" on the never-proxy address.
  const direct = cluster.spawn(process.execPath, [
    '-e',
    `require('net').createServer({allowHalfOpen:true},(s)=>{let m='';s.on('data',(c)=>m+=c);s.on('end',()=>s.end('direct:'+m));}).listen(7007,'${NEVER_PROXY_IP}',()=>console.log('up'))`,
  ]);
  children.push(direct);
  await new Promise((res) => direct.stdout?.once('data', res));
  // The tunnel's far end: an echo server on host loopback, reached only through the tunnel server.
  echo = net.createServer({ allowHalfOpen: true }, (s) => {
    let m = '';
    s.on('data', (c) => (m += c));
    s.on('end', () => s.end(`tunnel:${m}`));
    s.on('error', () => undefined);
  });
  await new Promise<void>((res) => echo.listen(0, '127.0.0.1', res));
  // Port 81: counts and discards (bulk throughput); port 82: echoes as it goes (held connections).
  sink = net.createServer({ allowHalfOpen: true }, (s) => {
    let n = 0;
    s.on('data', (c: Buffer) => (n += c.length));
    s.on('end', () => s.end(String(n)));
    s.on('error', () => undefined);
  });
  streamEcho = net.createServer((s) => {
    s.pipe(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((res) => sink.listen(0, '127.0.0.1', res));
  await new Promise<void>((res) => streamEcho.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, res));
  const portOf = (srv: net.Server) => (srv.address() as net.AddressInfo).port;
  const targets: Record<number, number> = { 81: portOf(sink), 82: portOf(streamEcho) };
  startTunnel = () =>
    startTunnelServer(join(dir, 'manager.socket'), (_ip, port) =>
      port === 9 ? null : port === 83 ? 'discard' : { host: '127.0.0.1', port: targets[port] ?? portOf(echo) },
      join(dir, 'manager-tcp.socket'),
    );
  tunnel = await startTunnel();
}, 60_000);

afterAll(async () => {
  for (const d of daemons) if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGKILL');
  for (const c of children) c.kill('SIGKILL');
  await tunnel?.close();
  echo?.close();
  sink?.close();
  streamEcho?.close();
  await ws?.delete();
  await cluster?.delete();
  rmSync(dir, { recursive: true, force: true });
});

describe('root daemon network (netns e2e)', () => {
  let baseline: Snapshot;
  let daemon: RunningDaemon;

  it('starts without touching the network', async () => {
    baseline = await snapshot();
    daemon = await startDaemon(ws, dir, NETWORK_OWNER_UID);
    daemons.push(daemon);
    expect(await snapshot()).toEqual(baseline);
  });

  it('connectNetwork routes subnets minus exclusions into tel0', async () => {
    const c = await daemon.client();
    const status = await c.connectNetwork(config());
    expect(status.device).toBe('tel0');
    expect(status.tunnelHealthy).toBe(true);
    expect(status.routedSubnets).toHaveLength(16);
    expect(status.routedSubnets).not.toContain('198.19.0.0/16');
    expect(status.excluded).toEqual([{ cidr: `${NEVER_PROXY_IP}/32`, reason: 'never-proxy' }]);
    expect(await c.version({})).toMatchObject({ idle: false });
    const route = await ws.exec('ip', ['route', 'get', ROUTED_IP]);
    expect(route).toContain('dev tel0');
    expect(await ws.exec('ip', ['route', 'get', NEVER_PROXY_IP])).toContain('dev tpr-ws');
    expect(await ws.exec('ip', ['-o', 'link', 'show', 'tel0'])).not.toContain('NO-CARRIER');
    c.close();
  }, 30_000);

  it('TCP to a routed address goes through the tunnel', async () => {
    const before = tunnel.tcpDestinations.length;
    const r = await nodeInWs(TCP_CLIENT, ROUTED_IP, '80', 'hello');
    expect(r).toEqual({ ok: true, got: 'tunnel:hello' });
    expect(tunnel.tcpDestinations.slice(before)).toEqual([`${ROUTED_IP}:80`]);
  });

  it('a destination the manager cannot dial is refused/reset, not left hanging', async () => {
    const r = await nodeInWs(TCP_CLIENT, ROUTED_IP, '9', 'x');
    expect(r.ok).toBe(false);
    expect(['ECONNRESET', 'ECONNREFUSED', 'EPIPE']).toContain(r.code);
  });

  it('a never-proxy address is not sent to the tunnel', async () => {
    const before = tunnel.tcpDestinations.length;
    const r = await nodeInWs(TCP_CLIENT, NEVER_PROXY_IP, '7007', 'hi');
    expect(r).toEqual({ ok: true, got: 'direct:hi' });
    expect(tunnel.tcpDestinations.slice(before)).toEqual([]);
  });

  it('UDP round-trips through the tunnel and the reply comes from the original destination', async () => {
    const r = await nodeInWs(UDP_CLIENT, ROUTED_IP, '5353', 'ping');
    expect(r).toEqual({ ok: true, got: 'echo:ping', from: `${ROUTED_IP}:5353` });
    expect(tunnel.udpDestinations).toContain(`${ROUTED_IP}:5353`);
  });

  it('each UDP (source, destination) pair is one tunnel flow', async () => {
    const before = tunnel.udpDestinations.length;
    const r = await nodeInWs(UDP_MULTI, ROUTED_IP);
    expect(r).toEqual({ a: ['echo:a1', 'echo:a2', 'echo:a3'], b: ['echo:b1'] });
    // socket a → :6000 (3 datagrams) is one flow, socket b → :6000 and socket a → :6001 are two more.
    expect(tunnel.udpDestinations.slice(before).sort()).toEqual([`${ROUTED_IP}:6000`, `${ROUTED_IP}:6000`, `${ROUTED_IP}:6001`]);
  });

  it('networkStatus reports the session', async () => {
    const c = await daemon.client();
    const s = await c.networkStatus({});
    expect(s).toMatchObject({ device: 'tel0', tunnelHealthy: true });
    expect(s?.activeStreams).toBeGreaterThanOrEqual(1); // the UDP flow stays until idle
    c.close();
  });

  it("TCP goes straight to the user daemon's listener when the session's user owns it, never to another user's", async () => {
    // Stand-in for the user daemon's listener, run as `uid`: answers "listener:<msg>"; its port.
    const listener = (uid: number) =>
      new Promise<number>((resolve, reject) => {
        const js = `require('net').createServer({allowHalfOpen:true},(s)=>{let m='';s.on('data',(c)=>m+=c);s.on('end',()=>s.end('listener:'+m));}).listen(0,'127.0.0.1',function(){console.log(String(this.address().port))})`;
        const child = ws.spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, '-e', js], { stdio: ['ignore', 'pipe', 'inherit'] });
        children.push(child);
        child.stdout!.once('data', (c: Buffer) => resolve(Number(c.toString().trim())));
        child.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
      });
    const c = await daemon.client();
    try {
      let status = await c.connectNetwork({ ...config(), tcpListenerPort: await listener(NETWORK_OWNER_UID) });
      // On failure, the daemon's reason for falling back (its log is a file, not its stdout).
      const why = () => readFileSync(join(dir, 'cache', 'telepresence', 'logs', 'daemon.log'), 'utf8').split('\n').filter((l) => l.includes('listener')).slice(-3).join(' | ');
      expect(status.tcp, why()).toEqual({ via: 'user-daemon' });
      expect(await nodeInWs(TCP_CLIENT, ROUTED_IP, '80', 'hello')).toEqual({ ok: true, got: 'listener:hello' });
      // A port held by another user (nobody) is ignored: our own proxy and the tunnel carry TCP.
      status = await c.connectNetwork({ ...config(), tcpListenerPort: await listener(65534) });
      expect(status.tcp?.via).not.toBe('user-daemon');
      expect(await nodeInWs(TCP_CLIENT, ROUTED_IP, '80', 'hello')).toEqual({ ok: true, got: 'tunnel:hello' });
    } finally {
      await c.connectNetwork(config());
      c.close();
    }
  }, 30_000);

  it('survives the manager side going away: unhealthy, refused, then reconnected on demand', async () => {
    const c = await daemon.client();
    const healthIs = async (want: boolean) => {
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
        if ((await c.networkStatus({}))?.tunnelHealthy === want) return true;
      }
      return false;
    };
    await tunnel.close();
    expect(await healthIs(false)).toBe(true);
    const refused = await nodeInWs(TCP_CLIENT, ROUTED_IP, '80', 'x');
    expect(refused.ok).toBe(false);
    tunnel = await startTunnel();
    expect(await nodeInWs(TCP_CLIENT, ROUTED_IP, '80', 'back')).toEqual({ ok: true, got: 'tunnel:back' });
    expect(await healthIs(true)).toBe(true);
    c.close();
  }, 40_000);

  it('quit restores routes, rules and links exactly', async () => {
    await daemon.quit();
    expect(await snapshot()).toEqual(baseline);
  }, 30_000);

  it('after kill -9 the next daemon removes the leftovers before anything else, reconnect works, and so does state of ours made behind its back', async () => {
    const first = await startDaemon(ws, dir, NETWORK_OWNER_UID);
    daemons.push(first);
    let c = await first.client();
    await c.connectNetwork(config());
    c.close();
    await first.kill9();
    const leftover = await snapshot();
    expect(leftover.nft).toContain('table ip telepresence');
    expect(leftover.rules).toMatch(/lookup 7210/);

    const second = await startDaemon(ws, dir, NETWORK_OWNER_UID);
    daemons.push(second);
    expect(await snapshot()).toEqual(baseline);
    c = await second.client();
    await c.connectNetwork(config());
    const state = await snapshot();
    expect(state.nft.match(/table ip telepresence/g)).toHaveLength(1);
    expect(state.rules.match(/lookup 7210/g)).toHaveLength(1);
    expect(state.routes.match(/local default dev lo table 7210/g)).toHaveLength(1);
    expect(await nodeInWs(TCP_CLIENT, ROUTED_IP, '8080', 'again')).toEqual({ ok: true, got: 'tunnel:again' });
    await c.disconnectNetwork({});
    expect(await snapshot()).toEqual(baseline);
    // Clean after its own disconnect, the daemon skips its check: these are in the way, then gone.
    await ws.exec('nft', ['add', 'table', 'ip', 'telepresence']);
    await ws.exec('ip', ['rule', 'add', 'fwmark', '0x7e10', 'lookup', '7210', 'priority', '7210']);
    await c.connectNetwork(config());
    const fresh = await snapshot();
    expect([fresh.nft.match(/table ip telepresence/g), fresh.nft.match(/redirect to/g), fresh.rules.match(/lookup 7210/g)].map((m) => m?.length)).toEqual([1, 1, 1]);
    expect(await nodeInWs(UDP_CLIENT, ROUTED_IP, '5353', 'u')).toMatchObject({ ok: true });
    expect(readFileSync(join(dir, 'cache', 'telepresence', 'logs', 'daemon.log'), 'utf8')).toContain('network state was in the way; removing it and trying once more');
    await c.disconnectNetwork({});
    expect(await snapshot()).toEqual(baseline);
    c.close();
    await second.quit();
  }, 60_000);
});

describe('root daemon connect failure', () => {
  it('a route clash is reported by prefix and everything done so far is undone', async () => {
    await ws.exec('ip', ['route', 'add', '198.19.7.0/24', 'via', '198.18.0.2']);
    let d: RunningDaemon | undefined;
    try {
      const before = await snapshot();
      d = await startDaemon(ws, dir, NETWORK_OWNER_UID);
      daemons.push(d);
      const c = await d.client();
      // 198.19.6.0/24 is fine; 198.19.7.0/24 is the host's already.
      const err = await c.connectNetwork({ ...config(), subnets: ['198.19.6.0/24', '198.19.7.0/24'], excluded: [] }).then(() => new Error('connected'), (e: unknown) => e as Error);
      expect(err).toMatchObject({ category: 'config' });
      expect(err.message).toBe('could not set up the network: cannot route 198.19.7.0/24 into tel0: this host already has a route for exactly that prefix (RTNETLINK answers: File exists); add it to never-proxy or remove the host\'s route');
      expect(await c.networkStatus({})).toBeNull();
      expect(await c.version({})).toMatchObject({ idle: true });
      c.close();
      expect(await snapshot()).toEqual(before);
    } finally {
      if (d && d.proc.exitCode === null) await d.quit();
      await ws.exec('ip', ['route', 'del', '198.19.7.0/24', 'via', '198.18.0.2']);
    }
  }, 30_000);
});

describe('root daemon under load and on SIGTERM', () => {
  let baseline: Snapshot;
  let daemon: RunningDaemon;

  beforeAll(async () => {
    baseline = await snapshot();
    daemon = await startDaemon(ws, dir, NETWORK_OWNER_UID);
    daemons.push(daemon);
    const c = await daemon.client();
    await c.connectNetwork(config());
    c.close();
  });

  const cpuSeconds = (pid: number) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
  };
  const rssMiB = () => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${daemon.proc.pid}/status`, 'utf8'));
    return Math.round(Number(m?.[1] ?? 0) / 1024);
  };

  it('1000 concurrent tunnelled connections all succeed, with bounded memory', async () => {
    const HOLD = `
const net = require('net');
const N = 1000, socks = [];
let ok = 0, failed = 0;
for (let i = 0; i < N; i++) {
  const s = net.connect({ host: '${ROUTED_IP}', port: 82 });
  socks.push(s);
  let got = '';
  s.on('connect', () => s.write('ping' + i + ';'));
  s.on('data', (c) => { got += c; if (got === 'ping' + i + ';') { if (++ok + failed === N) done(); } });
  s.on('error', () => { if (ok + ++failed === N) done(); });
}
function done() { console.log(JSON.stringify({ ok, failed })); setTimeout(() => { socks.forEach((s) => s.destroy()); console.log(JSON.stringify({ closed: true })); }, 1500); }
`;
    const child = ws.spawn(process.execPath, ['-e', HOLD], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const lines: string[] = [];
    const first = new Promise<string>((res) => child.stdout?.on('data', (c: Buffer) => { lines.push(...c.toString().trim().split('\n')); res(lines[0] ?? ''); }));
    const started = Date.now();
    const result = JSON.parse(await first);
    const elapsed = Date.now() - started;
    const c = await daemon.client();
    const status = await c.networkStatus({});
    const rss = rssMiB();
    c.close();
    await new Promise((res) => child.once('exit', res));
    console.log(`1000 concurrent: ${result.ok} ok / ${result.failed} failed in ${elapsed} ms; activeStreams ${status?.activeStreams}; daemon RSS ${rss} MiB`);
    expect(result).toEqual({ ok: 1000, failed: 0 });
    expect(status?.activeStreams).toBeGreaterThanOrEqual(1000);
    expect(rss).toBeLessThanOrEqual(200);
  }, 60_000);

  it('bulk TCP throughput through the tunnel (reported, loosely bounded)', async () => {
    const SEND = `
const net = require('net');
const [ip, port, mib] = process.argv.slice(1);
const total = +mib * 1048576, chunk = Buffer.alloc(256 * 1024, 120);
const t0 = process.hrtime.bigint();
const s = net.connect({ host: ip, port: +port, allowHalfOpen: true });
let sent = 0, answer = '';
function pump() { while (sent < total) { sent += chunk.length; if (!s.write(chunk)) return s.once('drain', pump); } s.end(); }
s.on('connect', pump);
s.on('data', (c) => (answer += c));
s.on('end', () => { const secs = Number(process.hrtime.bigint() - t0) / 1e9; console.log(JSON.stringify({ bytes: +answer, mibps: Math.round(total / 1048576 / secs) })); });
`;
    const SINK = `require('net').createServer({allowHalfOpen:true},(s)=>{let n=0;s.on('data',(c)=>n+=c.length);s.on('end',()=>s.end(String(n)));}).listen(9999,'127.0.0.1',()=>console.log('up'))`;
    const localSink = ws.spawn(process.execPath, ['-e', SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(localSink);
    await new Promise((res) => localSink.stdout?.once('data', res));
    const direct = await nodeInWs(SEND, '127.0.0.1', '9999', '512');
    const cpu0 = cpuSeconds(daemon.proc.pid!);
    const test0 = process.cpuUsage();
    const tunnelled = await nodeInWs(SEND, ROUTED_IP, '81', '512');
    const daemonCpu = cpuSeconds(daemon.proc.pid!) - cpu0;
    const testCpu = (process.cpuUsage().user + process.cpuUsage().system - test0.user - test0.system) / 1e6;
    // The tunnel server drops the bytes itself: what the workstation side alone can push.
    const toTunnel = await nodeInWs(SEND, ROUTED_IP, '83', '512');
    localSink.kill('SIGKILL');
    console.log(
      `512 MiB: direct loopback ${direct.mibps} MiB/s; through root daemon + tunnel to a far server ${tunnelled.mibps} MiB/s ` +
        `(ratio ${(tunnelled.mibps / direct.mibps).toFixed(2)}; CPU s: root daemon ${daemonCpu.toFixed(2)}, ` +
        `test tunnel server ${testCpu.toFixed(2)}); into the tunnel only ${toTunnel.mibps} MiB/s ` +
        `(ratio ${(toTunnel.mibps / direct.mibps).toFixed(2)}); daemon RSS ${rssMiB()} MiB`,
    );
    expect(tunnelled.bytes).toBe(512 * 1048576);
    expect(toTunnel.bytes).toBe(512 * 1048576);
    expect(rssMiB()).toBeLessThanOrEqual(200);
  }, 120_000);

  it('SIGTERM removes everything it installed', async () => {
    daemon.proc.kill('SIGTERM');
    await new Promise((res) => daemon.proc.once('exit', res));
    expect(await snapshot()).toEqual(baseline);
  }, 30_000);
});
