// End to end on a real kernel: the root daemon runs in a "workstation" namespace joined by a veth
// to a "cluster" namespace; routed traffic must reach the test's tunnel server (not the veth),
// never-proxied traffic must take the veth, and quit/kill -9 must leave no trace.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkConfig } from '@tel/contracts';
import { startDaemon, type RunningDaemon } from '../testing/daemon.js';
import { Netns } from '../testing/netns.js';
import { startTunnelServer, type TunnelServer } from '../testing/tunnel-server.js';

const OWNER_UID = 4242;
const ROUTED_IP = '198.19.1.10';
const NEVER_PROXY_IP = '198.19.1.20';
const TUN_ADDRESS = '198.18.255.254';

let dir: string;
let ws: Netns; // the workstation
let cluster: Netns;
let tunnel: TunnelServer;
let echo: net.Server;
const daemons: RunningDaemon[] = [];
const children: { kill(sig?: NodeJS.Signals): boolean }[] = [];

/** Run a Node snippet inside the workstation namespace; it prints one JSON line. */
async function nodeInWs(code: string, ...args: string[]): Promise<any> {
  const out = await ws.exec(process.execPath, ['-e', code, ...args], { timeoutMs: 120_000 });
  return JSON.parse(out.trim().split('\n').pop() ?? 'null');
}

const TCP_CLIENT = `
const net = require('net');
const [ip, port, msg] = process.argv.slice(1);
const s = net.connect({ host: ip, port: +port, allowHalfOpen: true });
let got = '';
s.on('connect', () => s.end(msg));
s.on('data', (c) => (got += c));
s.on('end', () => { console.log(JSON.stringify({ ok: true, got })); s.destroy(); });
s.on('error', (e) => console.log(JSON.stringify({ ok: false, code: e.code })));
setTimeout(() => { console.log(JSON.stringify({ ok: false, code: 'TIMEOUT' })); process.exit(0); }, 10000).unref();
`;

const UDP_CLIENT = `
const dgram = require('dgram');
const [ip, port, msg] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.on('message', (m, rinfo) => { console.log(JSON.stringify({ ok: true, got: m.toString(), from: rinfo.address + ':' + rinfo.port })); s.close(); });
s.send(msg, +port, ip);
setTimeout(() => { console.log(JSON.stringify({ ok: false, code: 'TIMEOUT' })); process.exit(0); }, 5000).unref();
`;

/** Everything routing-related in the workstation namespace, for before/after comparison. */
interface Snapshot {
  routes: string;
  rules: string;
  nft: string;
  iptables: string;
  links: string;
}

async function snapshot(): Promise<Snapshot> {
  return {
    routes: await ws.exec('ip', ['route', 'show', 'table', 'all']),
    rules: await ws.exec('ip', ['rule', 'show']),
    nft: await ws.exec('nft', ['list', 'ruleset']),
    iptables: await ws.exec('iptables-save', []).then((s) => s.replace(/^#.*$/gm, '')),
    links: await ws.exec('ip', ['-o', 'link', 'show']),
  };
}

function config(): NetworkConfig {
  return {
    managerSocket: join(dir, 'manager.socket'),
    subnets: ['198.19.0.0/16'],
    excluded: [{ cidr: NEVER_PROXY_IP, reason: 'never-proxy' }],
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
  const echoPort = (echo.address() as net.AddressInfo).port;
  tunnel = await startTunnelServer(join(dir, 'manager.socket'), (_ip, port) => (port === 9 ? null : { host: '127.0.0.1', port: echoPort }));
}, 60_000);

afterAll(async () => {
  for (const d of daemons) if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGKILL');
  for (const c of children) c.kill('SIGKILL');
  await tunnel?.close();
  echo?.close();
  await ws?.delete();
  await cluster?.delete();
  rmSync(dir, { recursive: true, force: true });
});

describe('root daemon network (netns e2e)', () => {
  let baseline: Snapshot;
  let daemon: RunningDaemon;

  it('starts without touching the network', async () => {
    baseline = await snapshot();
    daemon = await startDaemon(ws, dir, OWNER_UID);
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

  it('networkStatus reports the session', async () => {
    const c = await daemon.client();
    const s = await c.networkStatus({});
    expect(s).toMatchObject({ device: 'tel0', tunnelHealthy: true });
    expect(s?.activeStreams).toBeGreaterThanOrEqual(1); // the UDP flow stays until idle
    c.close();
  });

  it('quit restores routes, rules and links exactly', async () => {
    await daemon.quit();
    expect(await snapshot()).toEqual(baseline);
  }, 30_000);

  it('after kill -9 the next daemon removes the leftovers before anything else, and reconnect works', async () => {
    const first = await startDaemon(ws, dir, OWNER_UID);
    daemons.push(first);
    let c = await first.client();
    await c.connectNetwork(config());
    c.close();
    await first.kill9();
    const leftover = await snapshot();
    expect(leftover.nft).toContain('table ip telepresence');
    expect(leftover.rules).toMatch(/lookup 7210/);

    const second = await startDaemon(ws, dir, OWNER_UID);
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
    c.close();
    await second.quit();
  }, 60_000);
});
