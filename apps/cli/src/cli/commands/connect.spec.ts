// connect's flags through the real parser, in process: help text and flag errors are interface.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run } from '../run.js';
import { renderConnect, splitList } from './connect.js';

async function tp(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const env = { XDG_CONFIG_HOME: '/nonexistent', XDG_RUNTIME_DIR: '/nonexistent/run', TELEPRESENCE_ROOT_RUN_DIR: '/nonexistent/root' };
  const code = await run(argv, { stdout: w((s) => (stdout += s)), stderr: w((s) => (stderr += s)), env });
  return { code, stdout, stderr };
}

describe('telepresence connect', () => {
  it('help keeps the 2.x flag names', async () => {
    const r = await tp('connect', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchSnapshot();
  });

  it.each([
    [['--also-proxy', '10.0.0.0/33'], '--also-proxy "10.0.0.0/33" is not a CIDR: prefix length 33 exceeds 32 for IPv4; pass --also-proxy as address/prefix, e.g. 10.10.8.9/32'],
    [['--never-proxy', '10.10.8.9'], '--never-proxy "10.10.8.9" is not a CIDR: missing /prefix (write a single address as /32); pass --never-proxy as address/prefix, e.g. 10.10.8.9/32'],
    [['--never-proxy', '10.0.0.0/8,fd00:::1/64'], '--never-proxy "fd00:::1/64" is not a CIDR: "fd00:::1" is not an IPv6 address; pass --never-proxy as address/prefix, e.g. 10.10.8.9/32'],
  ])('refuses %j before starting any daemon', async (flags, message) => {
    const r = await tp('connect', ...flags);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`telepresence connect: error: ${message}\n`);
  });

  it('a bad flag in json mode is one error document', async () => {
    const r = await tp('-o', 'json', 'connect', '--also-proxy', 'nope');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { category: 'user', message: '--also-proxy "nope" is not a CIDR: missing /prefix (write a single address as /32)', hint: 'pass --also-proxy as address/prefix, e.g. 10.10.8.9/32' } });
  });

  it('accepts repeated and comma-separated lists', () => {
    expect(splitList(['10.0.0.0/8,10.1.0.0/16', ' 192.168.0.0/16 '])).toEqual(['10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/16']);
    expect(splitList(undefined)).toEqual([]);
  });

  it('renders a new and an existing session', () => {
    const session = {
      kubeconfigFiles: ['/k'],
      context: 'prod',
      server: 'https://198.18.0.1:6443',
      namespace: 'default',
      managerNamespace: 'ambassador',
      managerVersion: { version: 'v2.90.0', apiVersion: 1 },
      managerAction: 'installed',
      managerSocket: '/run/manager.socket',
      connectedAt: '2026-01-01T00:00:00Z',
      network: { device: 'tel0', routedSubnets: [], excluded: [], tunnelHealthy: true, activeStreams: 0 },
    };
    expect(renderConnect({ session, alreadyConnected: false, elapsedMs: 1 })).toBe(
      'Connected to context prod, namespace default (https://198.18.0.1:6443)\nTraffic Manager v2.90.0 in namespace ambassador (installed)',
    );
    expect(renderConnect({ session, alreadyConnected: true, elapsedMs: 1 })).toBe('Already connected to context prod, namespace default (https://198.18.0.1:6443)');
    const dns = { mode: 'override' as const, modeReason: 'systemd-resolved is running but programs do not ask it (…): taking over nameserver 127.0.0.1 instead', server: '127.0.0.1:5353', upstream: [], routingDomains: [], searchDomains: [], namespaces: [], leftOut: [], includeSuffixes: [], excludeSuffixes: [], lookupTimeoutMs: 8000, stats: { queries: 0, cluster: 0, upstream: 0, cacheHits: 0, servfail: 0, formerr: 0 } };
    expect(renderConnect({ session: { ...session, network: { ...session.network, dns } }, alreadyConnected: true, elapsedMs: 1 }).split('\n')[1]).toBe(`DNS: override mode: ${dns.modeReason}`);
    expect(renderConnect({ session: { ...session, network: { ...session.network, dnsError: 'no TUN' } }, alreadyConnected: true, elapsedMs: 1 }).split('\n')[1]).toBe('DNS: NOT running: no TUN');
  });
});
