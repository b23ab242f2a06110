// The workstation's name resolution is pinned whatever the host has: run the real overlay script
// in throwaway mount namespaces whose "host" /etc says something else, and compare.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOLVED_STUB_RESOLV_CONF, etcOverlayScript, flavourPrefix, nsswitchConf, workstationEtcFiles } from './workstation-etc.js';

describe('nsswitchConf', () => {
  it('differs only in the hosts line', () => {
    const hosts = (t: string) => t.split('\n').find((l) => l.startsWith('hosts:'));
    expect(hosts(nsswitchConf('stub'))).toMatch(/^hosts:\s+files dns$/);
    expect(hosts(nsswitchConf('nss-resolve'))).toMatch(/^hosts:\s+files resolve \[!UNAVAIL=return\] dns$/);
    const rest = (t: string) => t.split('\n').filter((l) => !l.startsWith('hosts:'));
    expect(rest(nsswitchConf('stub'))).toEqual(rest(nsswitchConf('nss-resolve')));
  });
});

const rootOnly = process.getuid?.() === 0 ? describe : describe.skip;

rootOnly('etcOverlayScript in a private mount namespace (real overlayfs)', () => {
  let dir: string;
  const hostFiles = () => ['/etc/nsswitch.conf', '/etc/resolv.conf'].map((f) => readFileSync(f, 'utf8'));
  let hostBefore: string[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tptc-etc-'));
    for (const [f, c] of Object.entries(workstationEtcFiles(dir))) writeFileSync(f, c);
    hostBefore = hostFiles();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** What a program in the pinned world sees, from a "host" whose /etc says `hostHosts`. */
  function pinnedView(hostHosts: string, flavour: 'stub' | 'nss-resolve'): string {
    writeFileSync(join(dir, 'host-nsswitch.conf'), `hosts: ${hostHosts}\n`);
    writeFileSync(join(dir, 'host-resolv.conf'), 'nameserver 198.18.99.1\nsearch corp.example\n');
    const inner = [
      'set -e',
      `mount -n -t tmpfs tptc-test-run ${join(dir, 'run')}`,
      ...etcOverlayScript({ dir, scratch: join(dir, 'run'), flavour: 'stub' }),
      // A program of the requested flavour, as wsExec starts it.
      [...flavourPrefix(flavour, dir).map((a) => `'${a.replace(/'/g, `'\\''`)}'`), 'sh', '-c', `'grep ^hosts: /etc/nsswitch.conf; readlink /etc/resolv.conf || echo not-a-symlink'`].join(' '),
    ].join('\n');
    const outer = [
      'set -e',
      `mkdir -p ${join(dir, 'run')}`,
      // The "host" of this test: an nsswitch.conf and resolv.conf unlike ours.
      `mount -n --bind ${join(dir, 'host-nsswitch.conf')} /etc/nsswitch.conf`,
      `mount -n --bind ${join(dir, 'host-resolv.conf')} /etc/resolv.conf`,
      `unshare --mount --propagation private -- /bin/sh -c "$1"`,
    ].join('\n');
    return execFileSync('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', outer, 'sh', inner], { encoding: 'utf8' });
  }

  it.each(['files dns', 'files resolve [!UNAVAIL=return] dns', 'files mdns4_minimal [NOTFOUND=return] dns myhostname'])(
    'host "hosts: %s": the workstation sees the same pinned world in both styles',
    (hostHosts) => {
      expect(pinnedView(hostHosts, 'stub')).toBe(`hosts:          files dns\n${RESOLVED_STUB_RESOLV_CONF}\n`);
      expect(pinnedView(hostHosts, 'nss-resolve')).toBe('hosts:          files resolve [!UNAVAIL=return] dns\nnot-a-symlink\n');
    },
  );

  it("never writes the host's /etc", () => {
    pinnedView('files dns', 'stub');
    expect(hostFiles()).toEqual(hostBefore);
  });
});
