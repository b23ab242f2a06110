// The workstation side of the DNS e2e tests, run inside a DnsSandbox: holds tel0, runs the
// "cluster DNS" and "upstream" zone servers on 198.18.x addresses and a real DnsSession.
// Protocol: one JSON command per stdin line {id, cmd, args}; one reply per stdout line {id, ok, result|error}.
import { execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Answer } from 'dns-packet';
import type { DnsConfig, DnsNamespace } from '@tel/contracts';
import { createLogger } from '@tel/logging';
import { execRunner } from '../../routing/linux.js';
import { closeFd, openTun } from '../../sys/libc.js';
import { directExchange, rawClusterResolver } from '../cluster.js';
import { DnsSession, removeDnsLeftovers } from '../session.js';
import { startZoneServer, type ZoneServer } from './zone-server.js';

export const UPSTREAM_IP = '198.18.0.53';
export const CLUSTER_DNS_IP = '198.18.1.53';
export const TUN_ADDRESS = '198.19.255.254';

const sh = (cmd: string, args: string[]) =>
  new Promise<string>((resolve, reject) => execFile(cmd, args, (err, out, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(out))));

let upstream: ZoneServer | undefined;
let cluster: ZoneServer | undefined;
let tunFd = -1;
let session: DnsSession | undefined;

const clusterRecords: Answer[] = [
  { type: 'A', name: 'my-svc.default.svc.cluster.local', ttl: 5, data: '10.96.0.10' },
  { type: 'A', name: 'my-svc.rs.svc.cluster.local', ttl: 5, data: '10.96.0.20' },
  { type: 'A', name: 'svc-a.newns.svc.cluster.local', ttl: 5, data: '10.96.0.30' },
  { type: 'A', name: 'api.staging.svc.cluster.local', ttl: 5, data: '10.96.0.40' },
  { type: 'PTR', name: '10.0.96.10.in-addr.arpa', ttl: 5, data: 'my-svc.default.svc.cluster.local' },
];
const upstreamRecords: Answer[] = [
  { type: 'A', name: 'docs.rs', ttl: 60, data: '198.18.7.7' },
  { type: 'A', name: 'example.com', ttl: 60, data: '198.18.8.8' },
  { type: 'A', name: 'db.legacy.staging', ttl: 60, data: '198.18.5.5' },
  // 60 addresses: too big for 512-byte UDP, so clients must come back over TCP.
  ...Array.from({ length: 60 }, (_, i): Answer => ({ type: 'A', name: 'big.example.org', ttl: 60, data: `198.18.6.${i + 1}` })),
];

const commands: Record<string, (args: any) => Promise<unknown>> = {
  async zones() {
    await sh('ip', ['addr', 'add', `${UPSTREAM_IP}/32`, 'dev', 'lo']);
    await sh('ip', ['addr', 'add', `${CLUSTER_DNS_IP}/32`, 'dev', 'lo']);
    upstream = await startZoneServer({ host: UPSTREAM_IP, port: 53, zone: 'example', records: upstreamRecords });
    cluster = await startZoneServer({ host: CLUSTER_DNS_IP, port: 53, zone: 'cluster.local', records: clusterRecords });
    cluster.silent.add('slow.default.svc.cluster.local');
    return {};
  },
  async tun() {
    tunFd = openTun('tel0');
    await sh('sh', ['-c', 'echo 1 > /proc/sys/net/ipv6/conf/tel0/disable_ipv6']);
    await sh('ip', ['addr', 'add', `${TUN_ADDRESS}/32`, 'dev', 'tel0']);
    await sh('ip', ['link', 'set', 'tel0', 'up']);
    return {};
  },
  async start(a: { config: DnsConfig; namespaces: DnsNamespace[] }) {
    session = await DnsSession.start({
      config: a.config,
      namespaces: a.namespaces,
      cluster: rawClusterResolver(directExchange({ ip: CLUSTER_DNS_IP, port: 53 })),
      tunName: 'tel0',
      tunAddress: TUN_ADDRESS,
      clusterSubnets: ['10.96.0.0/16'],
      log: createLogger(undefined),
      run: execRunner,
    });
    return session.status();
  },
  async setNamespaces(a: { namespaces: DnsNamespace[] }) {
    await session!.setNamespaces(a.namespaces);
    return session!.status();
  },
  async status() {
    return session?.status() ?? null;
  },
  async stop() {
    await session?.stop();
    session = undefined;
    return {};
  },
  async cleanup() {
    return removeDnsLeftovers({ run: execRunner, platform: 'linux' });
  },
  async seen() {
    return { cluster: cluster?.seen ?? [], upstream: upstream?.seen ?? [] };
  },
};

createInterface({ input: process.stdin }).on('line', (line) => {
  let msg: { id: number; cmd: string; args: unknown };
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  const fn = commands[msg.cmd];
  const reply = (r: object) => process.stdout.write(JSON.stringify({ id: msg.id, ...r }) + '\n');
  if (!fn) return reply({ ok: false, error: `unknown command ${msg.cmd}` });
  fn(msg.args).then(
    (result) => reply({ ok: true, result }),
    (err: unknown) => reply({ ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
});

const shutdown = async () => {
  await session?.stop().catch(() => undefined);
  await upstream?.close();
  await cluster?.close();
  if (tunFd >= 0) closeFd(tunFd);
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.stdin.on('end', () => void shutdown());
