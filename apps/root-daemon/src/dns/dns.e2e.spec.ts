// Cluster DNS end to end on real components, inside a throwaway network + mount namespace:
// a real dbus-daemon and systemd-resolved 252, a real TUN tel0 held open, our resolver on tel0's
// address, and real DNS servers standing in for the cluster DNS and the original nameserver.
// Then the same without resolved: the nftables overriding resolver, including crash cleanup.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsConfig, DnsNamespace, DnsStatus } from '@tel/contracts';
import { RESOLVER_FLAVOURS } from '@tel/testcluster';
import { DnsSandbox, killAndWait, type Agent } from './testing/sandbox.js';

const UPSTREAM_IP = '198.18.0.53';
const TUN_ADDRESS = '198.19.255.254';

const config: DnsConfig = {
  connectedNamespace: 'default',
  clusterDomain: 'cluster.local',
  excludeSuffixes: ['.com', 'legacy.staging'],
  lookupTimeoutMs: 4_000,
};
const namespaces: DnsNamespace[] = [{ name: 'default' }, { name: 'kube-system' }, { name: 'staging' }, { name: 'rs', services: ['my-svc'] }];

/** First IPv4 address in `resolvectl query` / `getent hosts` output. */
const ipIn = (out: string) => /\b(\d+\.\d+\.\d+\.\d+)\b/.exec(out)?.[1];

describe('systemd-resolved mode', () => {
  let sb: DnsSandbox;
  let agent: Agent;
  let before: string;

  beforeAll(async () => {
    // /etc/resolv.conf: resolved's managed stub file, as on a Debian/Ubuntu desktop.
    sb = await DnsSandbox.create({ resolved: true, resolvedDns: UPSTREAM_IP });
    agent = sb.startAgent();
    await agent.call('zones');
    await agent.call('tun');
    // Let resolved notice tel0, and pick its "Current DNS Server" (runtime state that any query
    // sets, ours or not), before the "before" snapshot.
    await new Promise((r) => setTimeout(r, 500));
    await sb.exec('resolvectl', ['query', '--cache=no', 'docs.rs']);
    before = await sb.exec('resolvectl', ['status']);
  });

  afterAll(async () => {
    await sb?.dispose();
  });

  const resolveq = (name: string) => sb.exec('resolvectl', ['query', '--cache=no', '-4', name], { timeoutMs: 15_000 });

  it('configures tel0 in resolved: our server, routing domains, search domain, no default route', async () => {
    const st = await agent.call<DnsStatus>('start', { config, namespaces });
    expect(st.mode).toBe('resolved');
    expect(st.server).toBe(`${TUN_ADDRESS}:53`);
    expect(st.upstream).toEqual([`${UPSTREAM_IP}:53`]);
    expect(st.leftOut).toEqual([expect.objectContaining({ namespace: 'rs', reason: 'public-suffix' })]);
    const link = await sb.exec('resolvectl', ['status', 'tel0']);
    expect(link).toContain(TUN_ADDRESS);
    expect(link).toMatch(/~cluster\.local/);
    expect(link).toMatch(/~kube-system/);
    expect(link).toMatch(/~my-svc\.rs/);
    expect(link).not.toMatch(/~rs\b(?!\.)/);
    expect(link).toMatch(/DNS Domain:.*\bdefault\b/);
    expect(link).toMatch(/-DefaultRoute/);
    expect(link).toMatch(/-LLMNR/);
    expect(link).toMatch(/-mDNS/);
  });

  it('resolves cluster names through resolved: name.ns, name (search), FQDN', async () => {
    expect(ipIn(await resolveq('my-svc.default'))).toBe('10.96.0.10');
    expect(ipIn(await resolveq('my-svc.default.svc.cluster.local'))).toBe('10.96.0.10');
    expect(ipIn(await resolveq('my-svc'))).toBe('10.96.0.10');
    const out = await resolveq('my-svc.default');
    expect(out).toMatch(/link: tel0/);
  });

  // glibc, as programs see it: the stub file's search line (Debian/Ubuntu) or nss-resolve (Fedora).
  it.each(RESOLVER_FLAVOURS)('getent (%s): name.ns, name (search), FQDN, and docs.rs from upstream', async (resolver) => {
    const getent = (name: string) => sb.exec('getent', ['ahostsv4', name], { timeoutMs: 15_000, resolver });
    expect(ipIn(await getent('my-svc.default'))).toBe('10.96.0.10');
    expect(ipIn(await getent('my-svc'))).toBe('10.96.0.10');
    expect(ipIn(await getent('my-svc.default.svc.cluster.local'))).toBe('10.96.0.10');
    expect(ipIn(await getent('my-svc.rs'))).toBe('10.96.0.20');
    expect(ipIn(await getent('docs.rs'))).toBe('198.18.7.7');
  });

  it('the stub file carries the search domain while connected (what glibc reads in the stub style)', async () => {
    const stub = await sb.exec('cat', ['/etc/resolv.conf']);
    expect(stub).toMatch(/^nameserver 127\.0\.0\.53$/m);
    expect(stub).toMatch(/^search .*\bdefault\b/m);
    expect(await sb.exec('grep', ['^hosts:', '/etc/nsswitch.conf'])).toMatch(/^hosts:\s+files dns\s*$/);
  });

  it('namespace "rs" does not hijack the TLD: docs.rs from upstream, my-svc.rs from the cluster', async () => {
    const seen0 = (await agent.call<{ cluster: string[] }>('seen')).cluster.length;
    expect(ipIn(await resolveq('docs.rs'))).toBe('198.18.7.7');
    const seen = (await agent.call<{ cluster: string[] }>('seen')).cluster.slice(seen0);
    expect(seen.filter((s) => s.includes('docs'))).toEqual([]);
    expect(ipIn(await resolveq('my-svc.rs'))).toBe('10.96.0.20');
    expect(ipIn(await resolveq('example.com'))).toBe('198.18.8.8');
  });

  it('an excluded suffix under a routed namespace falls back upstream instead of failing', async () => {
    // resolved routes db.legacy.staging to us (~staging); we must not answer NXDOMAIN.
    expect(ipIn(await resolveq('db.legacy.staging'))).toBe('198.18.5.5');
    expect(ipIn(await resolveq('api.staging'))).toBe('10.96.0.40');
  });

  it('reverse lookups of cluster addresses go to the cluster', async () => {
    expect(await resolveq('10.96.0.10')).toMatch(/my-svc\.default\.svc\.cluster\.local/);
  });

  it('a silent cluster DNS gives SERVFAIL within lookupTimeout, not a hang', async () => {
    const t0 = Date.now();
    const err = await resolveq('slow.default').then(
      () => '',
      (e: Error) => e.message,
    );
    expect(err).toMatch(/SERVFAIL|server failure|failed/i);
    // Each of our answers comes within lookupTimeout (server.spec.ts measures that); resolved
    // asks once more after a SERVFAIL, so the client sees at most about two of them.
    const took = Date.now() - t0;
    console.info(`resolvectl query of a silent cluster name failed after ${took} ms (lookupTimeout ${config.lookupTimeoutMs} ms)`);
    expect(took).toBeLessThan(2 * config.lookupTimeoutMs! + 1_000);
  });

  it('a namespace added via setNamespaces resolves within 2 s, and a removed one stops', async () => {
    await expect(resolveq('svc-a.newns')).rejects.toThrow();
    const t0 = Date.now();
    await agent.call('setNamespaces', { namespaces: [...namespaces, { name: 'newns' }] });
    let ip: string | undefined;
    while (Date.now() - t0 < 2_000 && !ip) ip = ipIn(await resolveq('svc-a.newns').catch(() => ''));
    const took = Date.now() - t0;
    expect(ip).toBe('10.96.0.30');
    expect(took).toBeLessThan(2_000);
    console.info(`namespace newns resolvable ${took} ms after setNamespaces`);
    await agent.call('setNamespaces', { namespaces });
    expect(await sb.exec('resolvectl', ['status', 'tel0'])).not.toMatch(/newns/);
  });

  it('stop restores resolved exactly (resolvectl status before == after)', async () => {
    await agent.call('stop');
    const after = await sb.exec('resolvectl', ['status']);
    expect(after).toBe(before);
  });

  it('a killed daemon leaves nothing in resolved: its link config goes with tel0', async () => {
    await agent.call('start', { config, namespaces });
    expect(await sb.exec('resolvectl', ['status', 'tel0'])).toMatch(/~cluster\.local/);
    await killAndWait(agent.proc, 'SIGKILL');
    // The TUN fd closed with the process, so tel0 and everything resolved held for it are gone.
    const deadline = Date.now() + 5_000;
    let status = await sb.exec('resolvectl', ['status']);
    while (/tel0/.test(status) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      status = await sb.exec('resolvectl', ['status']);
    }
    expect(status).not.toMatch(/tel0|cluster\.local|198\.19\.255\.254/);
    expect(status).toContain(before.split('\nLink')[0]!); // the Global section is as before
  });
});

describe('overriding resolver (no systemd-resolved)', () => {
  let sb: DnsSandbox;
  let agent: Agent;
  let rulesBefore: string;

  beforeAll(async () => {
    sb = await DnsSandbox.create({ resolved: false, resolvConf: `nameserver ${UPSTREAM_IP}\n` });
    agent = sb.startAgent();
    await agent.call('zones');
    rulesBefore = await sb.exec('nft', ['list', 'ruleset']);
  });

  afterAll(async () => {
    await sb?.dispose();
  });

  const getent = (name: string) => sb.exec('getent', ['ahostsv4', name], { timeoutMs: 15_000 });

  it('answers cluster names and forwards the rest to the original nameserver', async () => {
    const st = await agent.call<DnsStatus>('start', { config: { ...config, mode: 'override' }, namespaces });
    expect(st.mode).toBe('override');
    expect(st.upstream).toEqual([`${UPSTREAM_IP}:53`]);
    expect(await sb.exec('nft', ['list', 'table', 'ip', 'telepresence_dns'])).toContain('redirect to :');
    expect(ipIn(await getent('my-svc.default'))).toBe('10.96.0.10');
    expect(ipIn(await getent('my-svc'))).toBe('10.96.0.10');
    expect(ipIn(await getent('my-svc.rs'))).toBe('10.96.0.20');
    expect(ipIn(await getent('docs.rs'))).toBe('198.18.7.7');
    expect(ipIn(await getent('example.com'))).toBe('198.18.8.8');
    expect(ipIn(await getent('db.legacy.staging'))).toBe('198.18.5.5');
    // A Fedora-style nsswitch.conf without resolved running: nss-resolve is unavailable, glibc
    // falls through to the nameserver, which the redirect sends to us.
    const nss = (name: string) => sb.exec('getent', ['ahostsv4', name], { timeoutMs: 15_000, resolver: 'nss-resolve' });
    expect(ipIn(await nss('my-svc'))).toBe('10.96.0.10');
    expect(ipIn(await nss('my-svc.default'))).toBe('10.96.0.10');
  });

  it('a truncated answer is fetched over TCP through the redirect (our own TCP query is exempt)', async () => {
    const out = await getent('big.example.org');
    const ips = new Set(out.match(/198\.18\.6\.\d+/g));
    expect(ips.size).toBe(60);
  });

  it('removes exactly its rules on stop', async () => {
    await agent.call('stop');
    expect(await sb.exec('nft', ['list', 'ruleset'])).toBe(rulesBefore);
    expect(ipIn(await getent('docs.rs'))).toBe('198.18.7.7');
  });

  it('removes what a killed daemon left, at the next start', async () => {
    await agent.call('start', { config: { ...config, mode: 'override' }, namespaces });
    expect(await sb.exec('nft', ['list', 'ruleset'])).not.toBe(rulesBefore);
    await killAndWait(agent.proc, 'SIGKILL');
    const next = sb.startAgent();
    expect(await next.call<string[]>('cleanup')).toEqual(['nft table']);
    expect(await sb.exec('nft', ['list', 'ruleset'])).toBe(rulesBefore);
    agent = next;
  });
});

describe('resolved runs but programs do not ask it (a broken or unusual resolv.conf)', () => {
  it.each([
    ['a dangling symlink', { resolvConfSymlink: '/run/nowhere/resolv.conf' }, /is a symlink to \/run\/nowhere\/resolv\.conf, which does not exist/],
    ['an empty file', { resolvConf: '' }, /names no nameserver/],
  ])('%s: the mode is override, says why, cluster names work through glibc, and stop leaves resolv.conf as it was', async (_what, etc, found) => {
    const sb = await DnsSandbox.create({ resolved: true, resolvedDns: UPSTREAM_IP, ...etc });
    try {
      const agent = sb.startAgent();
      await agent.call('zones');
      await agent.call('tun');
      const resolvBefore = await sb.exec('sh', ['-c', 'ls -l /etc/resolv.conf; cat /etc/resolv.conf 2>&1; true']);
      const rulesBefore = await sb.exec('nft', ['list', 'ruleset']);
      const st = await agent.call<DnsStatus>('start', { config, namespaces });
      expect(st.mode).toBe('override');
      expect(st.modeReason).toMatch(/systemd-resolved is running but programs do not ask it/);
      expect(st.modeReason).toMatch(/127\.0\.0\.1/); // glibc's nameserver when resolv.conf names none
      expect(st.systemResolver?.resolvConf).toMatch(found);
      expect(st.systemResolver?.nsswitchHosts).toBe('files dns');
      // glibc, as programs see it, with nothing in resolv.conf: it asks 127.0.0.1, which we took over.
      expect(ipIn(await sb.exec('getent', ['ahostsv4', 'my-svc.default'], { timeoutMs: 15_000 }))).toBe('10.96.0.10');
      expect(ipIn(await sb.exec('getent', ['ahostsv4', 'my-svc'], { timeoutMs: 15_000 }))).toBe('10.96.0.10');
      await agent.call('stop');
      expect(await sb.exec('sh', ['-c', 'ls -l /etc/resolv.conf; cat /etc/resolv.conf 2>&1; true'])).toBe(resolvBefore);
      expect(await sb.exec('nft', ['list', 'ruleset'])).toBe(rulesBefore);
    } finally {
      await sb.dispose();
    }
  });
});
