// Interop: the root daemon against the real traffic-manager tunnel server (apps/traffic-manager),
// which runs in a "cluster" namespace behind a unix-socket forwarder standing in for the
// port-forward, and dials real servers there. Nothing but the tunnel connects the two namespaces.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TCP_CLIENT, UDP_CLIENT, nodeIn, snapshot, type Snapshot } from '../testing/clients.js';
import { startDaemon, type RunningDaemon } from '../testing/daemon.js';
import { Netns, spawnNodeIn } from '../testing/netns.js';

const POD_IP = '198.19.2.10';
const MANAGER_PORT = 18081;
/** The manager's TCP stream tunnel in the cluster namespace. */
const MANAGER_TCP_PORT = 18083;
const OWNER_UID = 4242;
const managerSrc = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../traffic-manager/src/manager');

let dir: string;
let ws: Netns;
let cluster: Netns;
let daemon: RunningDaemon | undefined;
const children: ChildProcess[] = [];

const spawnIn = (ns: Netns, args: string[], asUid?: number) => spawnNodeIn(ns, args, children, asUid);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tpr-interop-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'user'), { mode: 0o700 });
  chownSync(join(dir, 'user'), OWNER_UID, OWNER_UID);
  ws = await Netns.create('ws');
  cluster = await Netns.create('cl');
  await cluster.exec('ip', ['address', 'add', `${POD_IP}/32`, 'dev', 'lo']);
  // "Pods": a TCP server and a UDP echo on the pod IP, inside the cluster namespace only.
  await spawnIn(cluster, [
    '-e',
    `const net=require('net'),dgram=require('dgram');
     net.createServer({allowHalfOpen:true},(s)=>{let m='';s.on('data',(c)=>m+=c);s.on('end',()=>s.end('pod:'+m));}).listen(80,'${POD_IP}');
     net.createServer((s)=>{s.pipe(s);s.on('error',()=>{});}).listen({port:82,host:'${POD_IP}',backlog:4096});
     const u=dgram.createSocket('udp4');u.on('message',(m,r)=>u.send('pod-udp:'+m,r.port,r.address));u.bind(53,'${POD_IP}',()=>console.log('up'));`,
  ]);
  // The real manager API server, and a unix socket → TCP forwarder in front of it (the port-forward).
  await spawnIn(cluster, [
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    `const { startManagerServer } = await import(${JSON.stringify(join(managerSrc, 'server.ts'))});
     const { startTcpStreamServer } = await import(${JSON.stringify(join(managerSrc, 'tcp-stream.ts'))});
     const { createLogger } = await import(${JSON.stringify(join(managerSrc, '../../../../libs/logging/src/index.ts'))});
     await startTcpStreamServer({ port: ${MANAGER_TCP_PORT}, host: '127.0.0.1', dialTimeoutMs: 5000, log: createLogger('manager', { level: 'warn', stream: process.stdout }) });
     await startManagerServer({ port: ${MANAGER_PORT}, host: '127.0.0.1', version: { name: 'Traffic Manager', version: 'v0.0.0-test', apiVersion: 1 },
       clusterInfo: async () => ({ podSubnets: [], serviceSubnets: [], clusterDomain: 'cluster.local' }), log: createLogger('manager', { level: 'warn', stream: process.stdout }) });
     console.log('up');`,
  ]);
  // The forwarder runs as the session user, like the user daemon that serves the real socket.
  await spawnIn(cluster, [
    '-e',
    `const net=require('net');const fwd=(port,path,cb)=>net.createServer({allowHalfOpen:true},(c)=>{const u=net.connect({port,host:'127.0.0.1',allowHalfOpen:true});c.pipe(u);u.pipe(c);c.on('error',()=>u.destroy());u.on('error',()=>c.destroy());c.on('close',()=>u.destroy());u.on('close',()=>c.destroy());}).listen({path,backlog:4096},cb);
fwd(${MANAGER_PORT},${JSON.stringify(join(dir, 'user', 'manager.socket'))},()=>fwd(${MANAGER_TCP_PORT},${JSON.stringify(join(dir, 'user', 'manager-tcp.socket'))},()=>console.log('up')));`,
  ], OWNER_UID);
}, 60_000);

afterAll(async () => {
  if (daemon && daemon.proc.exitCode === null && daemon.proc.signalCode === null) daemon.proc.kill('SIGKILL');
  for (const c of children) c.kill('SIGKILL');
  await ws?.delete();
  await cluster?.delete();
  rmSync(dir, { recursive: true, force: true });
});

describe('root daemon ↔ real traffic-manager tunnel (netns e2e)', () => {
  let baseline: Snapshot;

  it('connects with a healthy tunnel', async () => {
    baseline = await snapshot(ws);
    daemon = await startDaemon(ws, dir, OWNER_UID);
    const c = await daemon.client();
    const s = await c.connectNetwork({ managerSocket: join(dir, 'user', 'manager.socket'), tcpTunnelSocket: join(dir, 'user', 'manager-tcp.socket'), subnets: ['198.19.2.0/24'], excluded: [], tunAddress: '198.18.255.254' });
    expect(s).toMatchObject({ tunnelHealthy: true, routedSubnets: ['198.19.2.0/24'] });
    c.close();
  }, 30_000);

  it('TCP reaches the pod through the manager', async () => {
    expect(await nodeIn(ws, TCP_CLIENT, POD_IP, '80', 'hi')).toEqual({ ok: true, got: 'pod:hi' });
  });

  it('a refused dial in the cluster becomes a refused connection on the workstation', async () => {
    const r = await nodeIn(ws, TCP_CLIENT, POD_IP, '81', 'x');
    expect(r.ok).toBe(false);
  });

  it('UDP reaches the pod and the reply comes from the pod address', async () => {
    expect(await nodeIn(ws, UDP_CLIENT, POD_IP, '53', 'q')).toEqual({ ok: true, got: 'pod-udp:q', from: `${POD_IP}:53` });
  });

  it('1000 concurrent connections through the real manager all succeed', async () => {
    const HOLD = `
const net = require('net');
const N = 1000, socks = [];
let ok = 0, failed = 0;
const done = () => { console.log(JSON.stringify({ ok, failed })); socks.forEach((s) => s.destroy()); };
for (let i = 0; i < N; i++) {
  const s = net.connect({ host: '${POD_IP}', port: 82 });
  socks.push(s);
  let got = '';
  s.on('connect', () => s.write('ping' + i + ';'));
  s.on('data', (c) => { got += c; if (got === 'ping' + i + ';' && ++ok + failed === N) done(); });
  s.on('error', () => { if (ok + ++failed === N) done(); });
}
setTimeout(() => { console.log(JSON.stringify({ ok, failed, timeout: true })); process.exit(0); }, 50000).unref();
`;
    const started = Date.now();
    const r = await nodeIn(ws, HOLD);
    console.log(`1000 concurrent via the real manager: ${r.ok} ok / ${r.failed} failed in ${Date.now() - started} ms`);
    expect(r).toEqual({ ok: 1000, failed: 0 });
  }, 60_000);

  it('quit restores the workstation namespace exactly', async () => {
    await daemon!.quit();
    expect(await snapshot(ws)).toEqual(baseline);
  }, 30_000);
});
