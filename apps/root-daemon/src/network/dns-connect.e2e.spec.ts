// connectNetwork with `dns`, end to end on real components: the real root daemon in a throwaway
// "workstation" (network + mount namespace with its own dbus-daemon and systemd-resolved, see
// dns/testing/sandbox.ts), the real traffic-manager API server (with @tel/dns-wire's POST /dns) in a
// "cluster" namespace whose DNS is a real DNS server, joined only by the tunnel's unix socket.
// No cluster DNS address is given to the daemon, so names can only resolve through POST /dns.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsConfig, DnsNamespace, NetworkConfig, RootDaemonContract } from '@tel/contracts';
import { connect, isAlive } from '@tel/ipc';
import { RESOLVER_FLAVOURS } from '@tel/testcluster';
import { DnsSandbox, killAndWait } from '../dns/testing/sandbox.js';
import { snapshot, type Snapshot } from '../testing/clients.js';
import { DAEMON_MAIN } from '../testing/daemon.js';
import { Netns, spawnNodeIn } from '../testing/netns.js';

const POD_IP = '198.19.2.10';
const OTHER_POD_IP = '198.19.2.11';
const CLUSTER_DNS_IP = '198.19.3.53';
const TUN_ADDRESS = '198.18.255.254';
const MANAGER_PORT = 18083;
/** The manager's TCP stream tunnel in the cluster namespace. */
const MANAGER_TCP_PORT = 18085;
const OWNER_UID = 4243;
const here = fileURLToPath(new URL('.', import.meta.url));
const managerSrc = resolve(here, '../../../traffic-manager/src/manager');
const zoneServerSrc = resolve(here, '../dns/testing/zone-server.ts');

let dir: string;
let cluster: Netns | undefined;
let sb: DnsSandbox | undefined;
const children: ChildProcess[] = [];

const spawnIn = (ns: Netns, args: string[], asUid?: number) => spawnNodeIn(ns, args, children, asUid);

interface Daemon {
  proc: ChildProcess;
  logs(): string;
}

/** The real root daemon, inside the sandbox (its network and mount namespace: its resolved). */
async function startDaemon(): Promise<Daemon> {
  const socketPath = join(dir, 'run', 'daemon.socket');
  // TEL_ROOTD_E2E_BUNDLE=dist/apps/root-daemon/main.js: the bundle instead of the sources.
  const entry = process.env.TEL_ROOTD_E2E_BUNDLE ? [resolve(process.env.TEL_ROOTD_E2E_BUNDLE)] : ['--import', 'tsx', DAEMON_MAIN];
  const proc = sb!.spawn(process.execPath, [...entry, '--owner-uid', String(OWNER_UID), '--owner-gid', String(OWNER_UID)], {
    ...process.env,
    TELEPRESENCE_ROOT_RUN_DIR: join(dir, 'run'),
    XDG_CACHE_HOME: join(dir, 'cache'),
    TELEPRESENCE_ROOT_LOG_LEVEL: 'debug',
  });
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 20_000;
  while (!(await isAlive(socketPath))) {
    if (proc.exitCode !== null) throw new Error(`root daemon exited early (${proc.exitCode}): ${out}`);
    if (Date.now() > deadline) throw new Error(`root daemon did not listen within 20 s: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, logs: () => out + daemonLogFiles() };
}

function daemonLogFiles(): string {
  try {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith('.log')) files.push(join(d, e.name));
      }
    };
    walk(join(dir, 'cache'));
    return files.map((f) => `\n--- ${f}\n${readFileSync(f, 'utf8').slice(-8000)}`).join('');
  } catch {
    return '';
  }
}

async function rootd() {
  return connect<RootDaemonContract>(join(dir, 'run', 'daemon.socket'), 'root daemon');
}

const dnsConfig: DnsConfig = { connectedNamespace: 'default', clusterDomain: 'cluster.local', lookupTimeoutMs: 3_000 };
const namespaces: DnsNamespace[] = [{ name: 'default' }, { name: 'demo-ns' }];
const network = (): NetworkConfig => ({
  managerSocket: join(dir, 'user', 'manager.socket'),
  tcpTunnelSocket: join(dir, 'user', 'manager-tcp.socket'),
  subnets: ['198.19.2.0/24', '198.19.3.0/24'],
  excluded: [],
  tunAddress: TUN_ADDRESS,
  dns: dnsConfig,
});

const ipIn = (out: string) => /\b(\d+\.\d+\.\d+\.\d+)\b/.exec(out)?.[1];

/** What the workstation's resolver state looks like: resolved's view, routes, rules, nft. */
async function resolverState(): Promise<{ resolved: string; net: Snapshot }> {
  return { resolved: await sb!.exec('resolvectl', ['status']), net: await snapshot(sb!.ns) };
}

/** tel0 (and resolved's link state for it) goes away shortly after the fd holder dies. */
async function waitForTel0Gone(): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const links = await sb!.exec('ip', ['-o', 'link', 'show']);
    const status = await sb!.exec('resolvectl', ['status']);
    if (!/tel0/.test(links) && !/tel0/.test(status)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tpr-dnsconn-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'user'), { mode: 0o700 });
  chownSync(join(dir, 'user'), OWNER_UID, OWNER_UID);
  cluster = await Netns.create('cl');
  await cluster.exec('ip', ['address', 'add', `${POD_IP}/32`, 'dev', 'lo']);
  await cluster.exec('ip', ['address', 'add', `${OTHER_POD_IP}/32`, 'dev', 'lo']);
  await cluster.exec('ip', ['address', 'add', `${CLUSTER_DNS_IP}/32`, 'dev', 'lo']);
  // The "pods": an HTTP server on each pod address.
  await spawnIn(cluster, [
    '-e',
    `const http=require('http');
     for (const ip of ['${POD_IP}','${OTHER_POD_IP}']) http.createServer((q,s)=>s.end('hello from '+ip)).listen(80, ip);
     setTimeout(()=>console.log('up'),100);`,
  ]);
  // The cluster DNS: a real DNS server with the cluster's records.
  await spawnIn(cluster, [
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    `const { startZoneServer } = await import(${JSON.stringify(zoneServerSrc)});
     await startZoneServer({ host: '${CLUSTER_DNS_IP}', port: 53, zone: 'cluster.local', records: [
       { type: 'A', name: 'demo.default.svc.cluster.local', ttl: 5, data: '${POD_IP}' },
       { type: 'A', name: 'demo.demo-ns.svc.cluster.local', ttl: 5, data: '${OTHER_POD_IP}' },
     ] });
     console.log('up');`,
  ]);
  // The real manager API server, its POST /dns forwarding to that DNS server (its "resolv.conf").
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
       clusterInfo: async () => ({ podSubnets: [], serviceSubnets: [], clusterDomain: 'cluster.local' }), log: createLogger('manager', { level: 'warn', stream: process.stdout }),
       dnsNameservers: [{ ip: '${CLUSTER_DNS_IP}', port: 53 }] });
     console.log('up');`,
  ]);
  // The port-forward stand-in, as the session user.
  await spawnIn(
    cluster,
    [
      '-e',
      `const net=require('net');const fwd=(port,path,cb)=>net.createServer({allowHalfOpen:true},(c)=>{const u=net.connect({port,host:'127.0.0.1',allowHalfOpen:true});c.pipe(u);u.pipe(c);c.on('error',()=>u.destroy());u.on('error',()=>c.destroy());c.on('close',()=>u.destroy());u.on('close',()=>c.destroy());}).listen({path,backlog:4096},cb);
fwd(${MANAGER_PORT},${JSON.stringify(join(dir, 'user', 'manager.socket'))},()=>fwd(${MANAGER_TCP_PORT},${JSON.stringify(join(dir, 'user', 'manager-tcp.socket'))},()=>console.log('up')));`,
    ],
    OWNER_UID,
  );
  sb = await DnsSandbox.create({ resolved: true }); // resolv.conf: resolved's stub file
}, 60_000);

afterAll(async () => {
  // The sandbox kills what it spawned (the daemons: SIGTERM, so they clean up) and its namespaces.
  await sb?.dispose();
  for (const c of children) await killAndWait(c, 'SIGKILL');
  await cluster?.delete();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('connectNetwork with dns (root daemon + real manager POST /dns, netns + resolved e2e)', () => {
  let before: { resolved: string; net: Snapshot };
  let daemon: Daemon;

  it('starts the resolver on tel0 and points resolved at it', async () => {
    // resolved's runtime state settles after start (current server etc.): take the baseline after a query.
    await new Promise((r) => setTimeout(r, 500));
    await sb!.exec('resolvectl', ['query', '--cache=no', 'example.invalid']).catch(() => '');
    before = await resolverState();
    daemon = await startDaemon();
    const c = await rootd();
    try {
      await c.setDnsNamespaces({ namespaces }); // before connecting: becomes the initial list
      const st = await c.connectNetwork(network(), { timeoutMs: 30_000 });
      expect(st.dnsError, daemon.logs()).toBeUndefined();
      expect(st.tunnelHealthy).toBe(true);
      expect(st.dns).toMatchObject({ mode: 'resolved', server: `${TUN_ADDRESS}:53`, namespaces: ['default', 'demo-ns'], searchDomains: ['default'] });
      expect(st.dns!.routingDomains).toEqual(expect.arrayContaining(['~cluster.local', '~default', '~demo-ns']));
    } finally {
      c.close();
    }
    const link = await sb!.exec('resolvectl', ['status', 'tel0']);
    expect(link).toContain(TUN_ADDRESS);
    expect(link).toMatch(/~demo-ns/);
  }, 60_000);

  it('answers cluster names through the tunnel: name.ns, name (search domain), FQDN', async () => {
    const q = (name: string) => sb!.exec('resolvectl', ['query', '--cache=no', '-4', name], { timeoutMs: 15_000 });
    expect(ipIn(await q('demo.demo-ns'))).toBe(OTHER_POD_IP);
    expect(ipIn(await q('demo.default.svc.cluster.local'))).toBe(POD_IP);
    for (const resolver of RESOLVER_FLAVOURS) {
      expect(ipIn(await sb!.exec('getent', ['hosts', 'demo.demo-ns'], { resolver })), resolver).toBe(OTHER_POD_IP);
      expect(ipIn(await sb!.exec('getent', ['ahostsv4', 'demo'], { resolver })), resolver).toBe(POD_IP);
    }
    const c = await rootd();
    try {
      const st = await c.networkStatus({});
      expect(st?.dns?.stats.cluster).toBeGreaterThan(0);
    } finally {
      c.close();
    }
  });

  it('a connection by name reaches the pod (DNS + routes + tunnel)', async () => {
    for (const resolver of RESOLVER_FLAVOURS) {
      expect(await sb!.exec('curl', ['-sS', '--max-time', '10', 'http://demo.demo-ns/'], { resolver })).toBe(`hello from ${OTHER_POD_IP}`);
      expect(await sb!.exec('curl', ['-sS', '--max-time', '10', 'http://demo/'], { resolver })).toBe(`hello from ${POD_IP}`);
    }
  });

  it('setDnsNamespaces applies a new namespace at once and drops a removed one', async () => {
    const c = await rootd();
    try {
      await c.setDnsNamespaces({ namespaces: [{ name: 'default' }] });
      expect(await sb!.exec('resolvectl', ['status', 'tel0'])).not.toMatch(/demo-ns/);
      await c.setDnsNamespaces({ namespaces });
      expect(await sb!.exec('resolvectl', ['status', 'tel0'])).toMatch(/~demo-ns/);
      expect((await c.networkStatus({}))?.dns?.namespaces).toEqual(['default', 'demo-ns']);
    } finally {
      c.close();
    }
  });

  it('disconnect leaves the resolver state exactly as before', async () => {
    const c = await rootd();
    try {
      await c.disconnectNetwork({});
    } finally {
      c.close();
    }
    await waitForTel0Gone();
    expect(await resolverState()).toEqual(before);
  });

  it('kill -9 while connected, then a restarted daemon: state exactly as before', async () => {
    let c = await rootd();
    try {
      await c.setDnsNamespaces({ namespaces });
      const st = await c.connectNetwork(network(), { timeoutMs: 30_000 });
      expect(st.dns?.mode).toBe('resolved');
    } finally {
      c.close();
    }
    await killAndWait(daemon.proc, 'SIGKILL');
    daemon = await startDaemon(); // its start-up cleanup removes routes and rules
    await waitForTel0Gone();
    expect(await resolverState()).toEqual(before);
    // And it connects again from the clean slate.
    c = await rootd();
    try {
      await c.setDnsNamespaces({ namespaces });
      await c.connectNetwork(network(), { timeoutMs: 30_000 });
      expect(ipIn(await sb!.exec('getent', ['hosts', 'demo.demo-ns']))).toBe(OTHER_POD_IP);
      await c.disconnectNetwork({});
    } finally {
      c.close();
    }
    await waitForTel0Gone();
    expect(await resolverState()).toEqual(before);
  }, 60_000);

  it('SIGTERM while connected undoes DNS and the network on the way out', async () => {
    const c = await rootd();
    try {
      await c.setDnsNamespaces({ namespaces });
      expect((await c.connectNetwork(network(), { timeoutMs: 30_000 })).dns?.mode).toBe('resolved');
    } finally {
      c.close();
    }
    expect(await sb!.exec('resolvectl', ['status', 'tel0'])).toMatch(/~demo-ns/);
    const exited = once(daemon.proc, 'exit');
    daemon.proc.kill('SIGTERM');
    await exited;
    await waitForTel0Gone();
    expect(await resolverState()).toEqual(before);
    expect(daemon.logs()).not.toMatch(/could not undo/);
    daemon = await startDaemon();
  }, 60_000);

  it('override mode: kill -9 leaves the nft redirect, the next daemon removes it at start', async () => {
    const c = await rootd();
    try {
      await c.setDnsNamespaces({ namespaces });
      const st = await c.connectNetwork({ ...network(), dns: { ...dnsConfig, mode: 'override' } }, { timeoutMs: 30_000 });
      expect(st.dnsError, daemon.logs()).toBeUndefined();
      expect(st.dns?.mode).toBe('override');
      expect(await sb!.exec('nft', ['list', 'tables'])).toMatch(/telepresence_dns/);
      // A plain DNS client asking the system nameserver (127.0.0.53 here) is redirected to us,
      // and so is glibc reading the stub file (nss-resolve would ask resolved over DBus instead,
      // which no redirect sees: override mode is for machines without resolved).
      const viaSystemNameserver = (name: string) =>
        sb!.exec(process.execPath, ['-e', `const r=new (require('dns').promises.Resolver)();r.setServers(['127.0.0.53']);r.resolve4(process.argv[1]).then((a)=>console.log(a.join(' ')),(e)=>console.log('ERR '+e.code))`, name]);
      expect((await viaSystemNameserver('demo.demo-ns')).trim()).toBe(OTHER_POD_IP);
      expect(ipIn(await sb!.exec('getent', ['ahostsv4', 'demo.demo-ns']))).toBe(OTHER_POD_IP);
      expect(ipIn(await sb!.exec('getent', ['ahostsv4', 'demo']))).toBe(POD_IP);
    } finally {
      c.close();
    }
    await killAndWait(daemon.proc, 'SIGKILL');
    expect(await sb!.exec('nft', ['list', 'tables'])).toMatch(/telepresence_dns/);
    daemon = await startDaemon();
    await waitForTel0Gone();
    expect(await resolverState()).toEqual(before);
    expect(daemon.logs()).toMatch(/removed DNS state left by a previous root daemon/);
    // Quit (SIGTERM path is the same cleanup) while disconnected: nothing to undo.
    const exited = once(daemon.proc, 'exit');
    const q = await rootd();
    await q.quit({}).catch(() => undefined);
    q.close();
    await exited;
    expect(await resolverState()).toEqual(before);
  }, 60_000);
});
