// `connect` with an IPv6 subnet: refused by the shared CIDR grammar (@tel/cidr) before the CLI
// starts a daemon or reads a kubeconfig, with the same IPv6 message the kubeconfig extension gives.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { IPV6_NOT_SUPPORTED } from '@tel/cidr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../run.js';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'tel-connect-ipv6-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

async function tp(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  // Every place a daemon or a cluster call would leave a trace lies under `home`; PATH has no sudo.
  const env = {
    HOME: home,
    PATH: join(home, 'bin'),
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_CACHE_HOME: join(home, 'cache'),
    XDG_RUNTIME_DIR: join(home, 'run'),
    TELEPRESENCE_ROOT_RUN_DIR: join(home, 'root'),
    KUBECONFIG: join(home, 'kubeconfig'),
  };
  const code = await run(argv, { stdout: w((s) => (stdout += s)), stderr: w((s) => (stderr += s)), env });
  return { code, stdout, stderr };
}

describe('telepresence connect with an IPv6 subnet', () => {
  it.each([
    [['--also-proxy', 'fd00::/64'], '--also-proxy "fd00::/64"', '--also-proxy'],
    [['--also-proxy', '10.0.0.0/8,fd00::/64'], '--also-proxy "fd00::/64"', '--also-proxy'],
    [['--never-proxy', 'fd00::1/128'], '--never-proxy "fd00::1/128"', '--never-proxy'],
  ])('%j fails with a user error before any daemon or cluster work', async (flags, what, flag) => {
    const r = await tp('connect', ...flags);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`telepresence connect: error: ${what}: ${IPV6_NOT_SUPPORTED}; for example ${flag} 10.10.8.0/24\n`);
    expect(r.stdout).toBe('');
    // Nothing was started or written: no socket dir, no log dir, no config.
    expect(readdirSync(home)).toEqual([]);
  });

  it('is one error document in json mode', async () => {
    const r = await tp('-o', 'json', 'connect', '--also-proxy', 'fd00::/64');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { category: 'user', message: `--also-proxy "fd00::/64": ${IPV6_NOT_SUPPORTED}`, hint: 'for example --also-proxy 10.10.8.0/24' } });
  });
});
