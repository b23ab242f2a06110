// Cluster DNS after `telepresence connect`, against a real test cluster, from its workstation
// namespace (which has its own dbus-daemon + systemd-resolved; the daemons must use "resolved"
// mode there). Runs on its own cluster instance (`dnse2e`), so the shared default cluster is never
// touched; the instance is taken down in afterAll.
//
// The workstation pins its own name resolution (Debian/Ubuntu style: resolved's stub file, `hosts:
// files dns`); every lookup "through the system resolver" runs in that style and in the Fedora
// style (nss-resolve), whatever the machine running the tests has.
// Not covered here: forcing a mode while resolved is absent (override mode) — that is the root
// daemon's e2e sandbox (apps/root-daemon/src/dns/dns.e2e.spec.ts).
import { existsSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoWorkloadManifest, clusterDown, ensureClusterUp, RESOLVER_FLAVOURS, type ClusterInfo, type ResolverFlavour } from '@tel/testcluster';
import { buildVersion, cliRunner, httpGet, pushManager, userEnv, ws, type Build, type Tp, kubectlAsAdmin } from './harness.js';

const INSTANCE = 'dnse2e';
const V = 'v2.92.0';
const DEMO_NS = 'tel-dns-e2e-demo';
/** An ICANN public suffix as a namespace: only `my-svc.rs` may go to the cluster, never docs.rs. */
const RS_NS = 'rs';
/** Not a public suffix: gets `~test`; `dns.inet.test` exists upstream and is excluded by config. */
const TEST_NS = 'test';
const EXCLUDED_SUFFIX = '.inet.test';
const NEW_NS = 'tel-dns-e2e-new';
/** Namespaces named like public suffixes, each with a Service `demo`, there before connecting. */
const SUFFIX_NAMESPACES = ['com', 'dev', 'io'];
/** kill -9 + connect cycles after which the first lookups must already work. */
const KILL_CYCLES = 10;

let cluster: ClusterInfo;
let dir: string;
let build: Build;
let env: NodeJS.ProcessEnv;
let tp: Tp;
let demoIp: string;
let mySvcIp: string;
const suffixIps: Record<string, string> = {};
let pristineResolver: string;
const measured: Record<string, number | string> = {};

const manifest = (image: string) => demoWorkloadManifest({ image, namespace: DEMO_NS }) + `---
apiVersion: v1
kind: Namespace
metadata: {name: ${RS_NS}}
---
apiVersion: v1
kind: Service
metadata: {name: my-svc, namespace: ${RS_NS}}
spec:
  ports:
  - {name: http, port: 80, protocol: TCP}
---
apiVersion: v1
kind: Namespace
metadata: {name: ${TEST_NS}}
` + SUFFIX_NAMESPACES.map((ns) => `---
apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: v1
kind: Service
metadata: {name: demo, namespace: ${ns}}
spec:
  ports:
  - {name: http, port: 8080, protocol: TCP}
`).join('');

const kubectl = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);

/** The system resolver's view of a name: getent's first address (or null). */
async function getent(name: string, resolver: ResolverFlavour = 'stub'): Promise<string | null> {
  const r = await cluster.wsExec('getent', ['hosts', name], { timeoutMs: 15_000, resolver });
  if (r.code !== 0) return null;
  return r.stdout.trim().split(/\s+/)[0] ?? null;
}

async function resolvectlQuery(name: string): Promise<{ code: number; out: string }> {
  const r = await cluster.wsExec('resolvectl', ['query', '--legend=no', '-4', name], { timeoutMs: 15_000 });
  return { code: r.code, out: r.stdout + r.stderr };
}

/**
 * One A query straight to a DNS server "ip:port" from the workstation (node's dgram; the ws
 * namespace has no dig): rcode and the A records of the answer.
 */
async function askA(server: string, name: string): Promise<{ rcode: number; addresses: string[] } | { error: string }> {
  const [host, port] = [server.slice(0, server.lastIndexOf(':')), Number(server.slice(server.lastIndexOf(':') + 1))];
  const script = `
const name = ${JSON.stringify(name)};
const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
const q = Buffer.concat([Buffer.from([0x4e, 0x21, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
const s = require('node:dgram').createSocket('udp4');
const t = setTimeout(() => { console.log(JSON.stringify({ error: 'timeout' })); process.exit(0); }, 5000);
const skipName = (b, o) => { for (;;) { const n = b[o]; if (n === 0) return o + 1; if ((n & 0xc0) === 0xc0) return o + 2; o += n + 1; } };
s.on('message', (b) => {
  clearTimeout(t);
  const an = b.readUInt16BE(6);
  let o = skipName(b, 12) + 4;
  const addresses = [];
  for (let i = 0; i < an; i++) {
    o = skipName(b, o);
    const type = b.readUInt16BE(o), len = b.readUInt16BE(o + 8);
    if (type === 1) addresses.push([...b.subarray(o + 10, o + 14)].join('.'));
    o += 10 + len;
  }
  console.log(JSON.stringify({ rcode: b[3] & 15, addresses }));
  s.close();
});
s.send(q, ${port}, ${JSON.stringify(host)});`;
  const r = await cluster.wsExec('node', ['-e', script], { timeoutMs: 15_000 });
  try {
    return JSON.parse(r.stdout.trim()) as { rcode: number; addresses: string[] };
  } catch {
    return { error: `${r.code}: ${r.stdout}${r.stderr}` };
  }
}

/** resolved's configuration as `resolvectl` shows it, for exact before/after comparison. */
async function resolverState(): Promise<string> {
  const parts: string[] = [];
  for (const cmd of ['resolvectl status --no-pager', 'resolvectl domain', 'resolvectl dns', 'resolvectl default-route', 'ip -o link show']) {
    const r = await ws(cluster, cmd);
    parts.push(`== ${cmd} (rc ${r.code})\n${r.stdout}${r.stderr}`);
  }
  return parts.join('\n');
}

/** Waits until a process we killed is gone (its pid no longer exists). */
async function waitGone(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`pid ${pid} still alive 10 s after SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

beforeAll(async () => {
  cluster = await ensureClusterUp({ instance: INSTANCE });
  dir = mkdtempSync(join(tmpdir(), 'tel-dns-e2e-'));
  const dist = join(dir, 'dist');
  build = await buildVersion(dist, V, cluster.registry);
  await pushManager(build, dist);
  await kubectl(['apply', '-f', '-'], manifest(cluster.demoServerImage));
  await kubectl(['rollout', 'status', 'deployment/demo', '-n', DEMO_NS, '--timeout=150s']);
  demoIp = (await kubectl(['get', 'service', 'demo', '-n', DEMO_NS, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  mySvcIp = (await kubectl(['get', 'service', 'my-svc', '-n', RS_NS, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  for (const ns of SUFFIX_NAMESPACES) suffixIps[ns] = (await kubectl(['get', 'service', 'demo', '-n', ns, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  env = userEnv(join(dir, 'user'), cluster.registry);
  const cfgDir = join(env.XDG_CONFIG_HOME!, 'telepresence');
  mkdirSync(cfgDir, { recursive: true });
  writeFileSync(join(cfgDir, 'config.yml'), `dns:\n  excludeSuffixes: ['${EXCLUDED_SUFFIX}']\n`);
  tp = cliRunner(cluster, build, env, cluster.adminKubeconfig);
  pristineResolver = await resolverState();
}, 900_000);

afterAll(async () => {
  if (tp) await tp('quit', '-s').catch(() => undefined);
  if (dir) {
    process.stderr.write(`dns e2e measured: ${JSON.stringify(measured)}\n`);
    writeFileSync(join(tmpdir(), 'tel-dns-e2e-measured.json'), JSON.stringify(measured, null, 2) + '\n');
    const logs = join(tmpdir(), 'tel-dns-e2e-logs');
    rmSync(logs, { recursive: true, force: true });
    const userLogs = join(dir, 'user', 'cache', 'telepresence', 'logs');
    if (existsSync(userLogs)) cpSync(userLogs, logs, { recursive: true });
    rmSync(dir, { recursive: true, force: true });
  }
  await clusterDown({ instance: INSTANCE });
}, 300_000);

describe('cluster DNS through the system resolver (real cluster, workstation namespace)', () => {
  it('before connect, cluster names do not resolve and docs.rs does (from the inet DNS)', async () => {
    expect(await getent(`demo.${DEMO_NS}`)).toBeNull();
    expect(await getent('docs.rs')).toBe(cluster.inetNames['docs.rs']);
  }, 60_000);

  it('connect as admin (installs the manager) in the demo namespace', async () => {
    const r = await tp('connect', '--namespace', DEMO_NS, '--output', 'json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    measured.connectMs = r.ms;
    expect(r.json).toMatchObject({ connected: true, namespace: DEMO_NS });
  }, 400_000);

  it('status shows DNS mode resolved and the routing domains', async () => {
    const s = await tp('status', '--output', 'json');
    expect(s.code, s.stderr).toBe(0);
    const dns = s.json.root_daemon?.dns;
    expect(dns, JSON.stringify(s.json.root_daemon)).toBeTruthy();
    expect(dns.mode).toBe('resolved');
    expect(dns.routing_domains).toEqual(expect.arrayContaining(['~cluster.local', `~${DEMO_NS}`, '~my-svc.rs', `~${TEST_NS}`]));
    expect(dns.routing_domains).not.toContain('~rs');
    expect(dns.search_domains).toEqual([DEMO_NS]);
    expect(dns.exclude_suffixes).toEqual([EXCLUDED_SUFFIX]);
    expect(dns.left_out).toEqual(expect.arrayContaining([expect.objectContaining({ namespace: RS_NS, reason: 'public-suffix' })]));
    const human = await tp('status');
    expect(human.stdout).toMatch(/DNS\s+: resolved, server /);
    expect(human.stdout).toContain(`Routing domains: ${dns.routing_domains.join(' ')}`);
    expect(human.stdout).toContain(`Search domains : ${DEMO_NS}`);
    // resolved itself carries them on tel0; the connected namespace as search domain (which
    // routes too), so there without the `~`.
    const dom = await ws(cluster, 'resolvectl domain tel0');
    const onLink = dom.stdout.replace(/^.*?:/, '').trim().split(/\s+/);
    expect(onLink).toEqual(expect.arrayContaining(['~cluster.local', DEMO_NS, '~my-svc.rs', `~${TEST_NS}`]));
    expect(onLink).not.toContain('~rs');
    const dr = await ws(cluster, 'resolvectl default-route tel0');
    expect(dr.stdout).toMatch(/no/);
  }, 60_000);

  it("the workstation's own resolver configuration, whatever the host has", async () => {
    const stub = await ws(cluster, 'grep ^hosts: /etc/nsswitch.conf; readlink /etc/resolv.conf; grep ^search /etc/resolv.conf');
    expect(stub.stdout).toMatch(/^hosts:\s+files dns\n\/run\/systemd\/resolve\/stub-resolv\.conf\n/);
    // While connected, resolved writes the session's search domain into the stub file.
    expect(stub.stdout).toMatch(new RegExp(`^search .*\\b${DEMO_NS}\\b`, 'm'));
    const fedora = await cluster.wsExec('sh', ['-c', 'grep ^hosts: /etc/nsswitch.conf; grep ^search /etc/resolv.conf'], { resolver: 'nss-resolve' });
    expect(fedora.stdout).toMatch(/^hosts:\s+files resolve \[!UNAVAIL=return\] dns\nsearch \.\n$/);
  });

  // One case per form and style, so a failing one is reported on its own.
  it.each(RESOLVER_FLAVOURS.flatMap((resolver) => ['demo', `demo.${DEMO_NS}`, `demo.${DEMO_NS}.svc`, `demo.${DEMO_NS}.svc.cluster.local`].map((name) => [name, resolver] as const)))(
    'name form %s resolves through the system resolver (%s: getent; resolvectl query)',
    async (name, resolver) => {
      const q = await resolvectlQuery(name);
      expect(await getent(name, resolver), `getent hosts ${name} (resolvectl query: ${q.out.trim()})`).toBe(demoIp);
      expect(q.code, `resolvectl query ${name}: ${q.out}`).toBe(0);
      expect(q.out).toContain(demoIp);
    },
    60_000,
  );

  it.each(RESOLVER_FLAVOURS)('Services in namespaces named like public suffixes resolve (%s)', async (resolver) => {
    for (const ns of SUFFIX_NAMESPACES) expect(await getent(`demo.${ns}`, resolver), `demo.${ns}`).toBe(suffixIps[ns]);
  }, 60_000);

  it('our resolver answers the .svc form when asked directly (the gap is only in routing)', async () => {
    const server = (await tp('status', '--output', 'json')).json.root_daemon.dns.server as string;
    const r = await askA(server, `demo.${DEMO_NS}.svc`);
    expect(r, `A demo.${DEMO_NS}.svc @${server}`).toEqual({ rcode: 0, addresses: [demoIp] });
  }, 60_000);

  it.each(RESOLVER_FLAVOURS)('an HTTP GET by name answers from the pod (%s)', async (resolver) => {
    for (const host of ['demo', `demo.${DEMO_NS}`]) {
      const r = await httpGet(cluster, `http://${host}:8080/`, 10, { resolver });
      expect(r.ok, `${host}: ${r.body}`).toBe(true);
      expect(r.body).toContain(DEMO_NS);
    }
  }, 60_000);

  it('a namespace created in the cluster is resolvable within 2 s', async () => {
    const created = performance.now();
    await kubectl(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NEW_NS}}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: fresh, namespace: ${NEW_NS}}\nspec:\n  ports:\n  - {port: 80, protocol: TCP}\n`);
    const applied = performance.now();
    const ip = (await kubectl(['get', 'service', 'fresh', '-n', NEW_NS, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    let got: string | null = null;
    let polls = 0;
    while (performance.now() - applied < 5_000) {
      polls++;
      got = await getent(`fresh.${NEW_NS}`);
      if (got) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const ms = Math.round(performance.now() - applied);
    measured.newNamespaceResolvableMs = ms;
    measured.newNamespaceApplyMs = Math.round(applied - created);
    console.info(`new namespace: resolvable ${ms} ms after kubectl apply returned (${polls} getent polls)`);
    expect(got).toBe(ip);
    expect(ms).toBeLessThan(2_000);
  }, 60_000);

  it('namespace "rs": my-svc.rs goes to the cluster, docs.rs still to the internet DNS', async () => {
    expect(await getent('my-svc.rs')).toBe(mySvcIp);
    expect((await resolvectlQuery('my-svc.rs')).out).toContain(mySvcIp);
    expect(await getent('docs.rs')).toBe(cluster.inetNames['docs.rs']);
    const q = await resolvectlQuery('docs.rs');
    expect(q.out).toContain(cluster.inetNames['docs.rs']);
    expect(q.out).not.toContain('tel0');
    const r = await httpGet(cluster, 'http://docs.rs/');
    expect(r.ok, r.body).toBe(true);
  }, 60_000);

  it('an excluded suffix under a routed namespace resolves from upstream instead of failing', async () => {
    const before = (await tp('status', '--output', 'json')).json.root_daemon.dns.stats;
    // `dns.inet.test` is routed to tel0 by `~test`; our resolver must forward it upstream.
    expect(await getent('dns.inet.test')).toBe(cluster.inetNames['dns.inet.test']);
    const q = await resolvectlQuery('dns.inet.test');
    expect(q.code, q.out).toBe(0);
    expect(q.out).toContain(cluster.inetNames['dns.inet.test']);
    console.info(`resolvectl query dns.inet.test: ${q.out.trim()}`);
    expect(q.out).toContain('link: tel0'); // routed to us by ~test, forwarded upstream by us
    const after = (await tp('status', '--output', 'json')).json.root_daemon.dns.stats;
    expect(after.upstream).toBeGreaterThan(before.upstream);
    // A name in the same namespace that is not excluded goes to the cluster (and does not exist there).
    expect(await getent('nothere.test')).toBeNull();
  }, 60_000);

  it('measures the lookup latency of a cluster name through the system resolver', async () => {
    const name = `demo.${DEMO_NS}`;
    const script = `for i in $(seq 50); do s=$(date +%s%N); getent hosts ${name} >/dev/null || echo FAIL; e=$(date +%s%N); echo $(( (e - s) / 1000 )); done`;
    const r = await ws(cluster, script, 120_000);
    expect(r.stdout).not.toContain('FAIL');
    const us = r.stdout.trim().split('\n').map(Number);
    expect(us).toHaveLength(50);
    // And uncached: a fresh name each time (resolved has not seen it; our cache has not either).
    const fresh = `for i in $(seq 20); do s=$(date +%s%N); getent hosts nope$i.${DEMO_NS} >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000 )); done`;
    const f = await ws(cluster, fresh, 120_000);
    const fus = f.stdout.trim().split('\n').map(Number);
    measured.getentP50Ms = percentile(us, 50) / 1000;
    measured.getentP95Ms = percentile(us, 95) / 1000;
    measured.getentUncachedNxP50Ms = percentile(fus, 50) / 1000;
    console.info(`getent hosts ${name}: p50 ${measured.getentP50Ms} ms, p95 ${measured.getentP95Ms} ms (50 calls); uncached NXDOMAIN p50 ${measured.getentUncachedNxP50Ms} ms (20 calls)`);
  }, 300_000);

  it(`kill -9 of both daemons, then connect: the first lookups already work (${KILL_CYCLES} cycles, both styles)`, async () => {
    const failures: string[] = [];
    const connectMs: number[] = [];
    for (let cycle = 1; cycle <= KILL_CYCLES; cycle++) {
      const st = await tp('status', '--output', 'json');
      const pids = [st.json?.user_daemon?.pid, st.json?.root_daemon?.pid].filter((p): p is number => typeof p === 'number');
      expect(pids, JSON.stringify(st.json)).toHaveLength(2);
      for (const pid of pids) process.kill(pid, 'SIGKILL'); // our own daemons, by pid
      for (const pid of pids) await waitGone(pid);
      const c = await tp('connect', '--namespace', DEMO_NS, '--output', 'json');
      expect(c.code, c.stdout + c.stderr).toBe(0);
      connectMs.push(c.ms);
      // Right after connect returns: the very first lookups, in both styles.
      for (const resolver of RESOLVER_FLAVOURS) {
        for (const [name, want] of [['demo.dev', suffixIps.dev], ['demo', demoIp]] as const) {
          const got = await getent(name, resolver);
          if (got !== want) failures.push(`cycle ${cycle} ${resolver}: getent ${name} = ${got}, want ${want}`);
        }
      }
    }
    measured.killConnectMsP50 = percentile(connectMs, 50);
    expect(failures).toEqual([]);
  }, 600_000);

  it('quit restores the resolver state exactly', async () => {
    const r = await tp('quit', '-s');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await resolverState()).toBe(pristineResolver);
    expect(await getent(`demo.${DEMO_NS}`)).toBeNull();
    expect(await getent('docs.rs')).toBe(cluster.inetNames['docs.rs']);
  }, 120_000);
});

describe('a workstation whose resolv.conf is broken (resolved runs, programs do not ask it)', () => {
  it.each([
    ['a symlink to a missing file', { symlinkTo: '/run/nowhere/resolv.conf' }, '/etc/resolv.conf is a symlink to /run/nowhere/resolv.conf, which does not exist'],
    ['an empty file', 'empty', '/etc/resolv.conf names no nameserver'],
  ] as const)('%s: connect says what it found and which mode it chose, names work, quit leaves it as it was', async (_what, resolvConf, found) => {
    const world = { resolvConf } as const;
    const tpBroken = cliRunner(cluster, build, env, cluster.adminKubeconfig, world);
    const look = () => cluster.wsExec('sh', ['-c', 'ls -l /etc/resolv.conf; cat /etc/resolv.conf 2>&1; true'], world);
    const filesBefore = (await look()).stdout;
    const rulesBefore = (await ws(cluster, 'nft list ruleset')).stdout;
    const r = await tpBroken('connect', '--namespace', DEMO_NS);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`DNS: override mode: systemd-resolved is running but programs do not ask it (${found}; nsswitch hosts: files dns): taking over nameserver 127.0.0.1 instead`);
    const st = await tpBroken('status', '--output', 'json');
    expect(st.json.root_daemon.dns).toMatchObject({ mode: 'override', system_resolver: { resolv_conf: found, nsswitch_hosts: 'files dns' } });
    for (const name of ['demo', `demo.${DEMO_NS}`]) {
      const g = await cluster.wsExec('getent', ['hosts', name], { ...world, timeoutMs: 15_000 });
      expect(g.stdout.trim().split(/\s+/)[0], `getent hosts ${name}: ${g.stdout}${g.stderr}`).toBe(demoIp);
    }
    const q = await tpBroken('quit', '-s');
    expect(q.code, q.stdout + q.stderr).toBe(0);
    expect((await look()).stdout).toBe(filesBefore);
    expect((await ws(cluster, 'nft list ruleset')).stdout).toBe(rulesBefore);
    expect(await resolverState()).toBe(pristineResolver);
  }, 300_000);
});
