import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GLIBC_DEFAULT_NAMESERVER, inspectSystemResolver, nsswitchHosts } from './system-resolver.linux.js';

describe('nsswitchHosts', () => {
  it.each([
    ['hosts:          files dns\n', 'files dns'],
    ['passwd: files\nhosts: files resolve [!UNAVAIL=return]   dns # fedora\n', 'files resolve [!UNAVAIL=return] dns'],
    ['# hosts: files resolve\nhosts: files dns\n', 'files dns'],
    ['passwd: files\n', undefined],
  ])('%j → %j', (text, want) => expect(nsswitchHosts(text)).toBe(want));
});

describe('inspectSystemResolver (real files and symlinks)', () => {
  let dir: string;
  const files = () => ({ resolvConf: join(dir, 'resolv.conf'), nsswitchConf: join(dir, 'nsswitch.conf') });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tel-sysres-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('Debian/Ubuntu: resolv.conf → the stub file; glibc reaches resolved', async () => {
    writeFileSync(join(dir, 'stub-resolv.conf'), 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n');
    symlinkSync(join(dir, 'stub-resolv.conf'), join(dir, 'resolv.conf'));
    writeFileSync(join(dir, 'nsswitch.conf'), 'hosts: files dns\n');
    const r = await inspectSystemResolver(files());
    expect(r.reachesResolved).toBe(true);
    expect(r.view.resolvConf).toBe(`${join(dir, 'resolv.conf')} → ${join(dir, 'stub-resolv.conf')} (nameserver 127.0.0.53)`);
    expect(r.view.nsswitchHosts).toBe('files dns');
    expect(r.nameservers).toEqual([{ ip: '127.0.0.53', port: 53 }]);
  });

  it('Fedora: nss-resolve reaches resolved whatever resolv.conf says', async () => {
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 198.18.64.53\n');
    writeFileSync(join(dir, 'nsswitch.conf'), 'hosts: files resolve [!UNAVAIL=return] dns\n');
    expect((await inspectSystemResolver(files())).reachesResolved).toBe(true);
  });

  it('a plain resolv.conf naming another server and no nss-resolve: glibc never asks resolved', async () => {
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 198.18.64.53\nnameserver 127.0.0.53\n');
    writeFileSync(join(dir, 'nsswitch.conf'), 'hosts: files dns\n');
    const r = await inspectSystemResolver(files());
    expect(r.reachesResolved).toBe(false);
    expect(r.nameservers.map((n) => n.ip)).toEqual(['198.18.64.53', '127.0.0.53']);
  });

  it('a dangling symlink: described with its target; glibc falls back to 127.0.0.1', async () => {
    symlinkSync(join(dir, 'gone.conf'), join(dir, 'resolv.conf'));
    writeFileSync(join(dir, 'nsswitch.conf'), 'hosts: files dns\n');
    const r = await inspectSystemResolver(files());
    expect(r.view.resolvConf).toBe(`${join(dir, 'resolv.conf')} is a symlink to ${join(dir, 'gone.conf')}, which does not exist`);
    expect(r.reachesResolved).toBe(false);
    expect(r.nameservers).toEqual([GLIBC_DEFAULT_NAMESERVER]);
  });

  it('an empty resolv.conf and a missing one', async () => {
    writeFileSync(join(dir, 'resolv.conf'), '');
    writeFileSync(join(dir, 'nsswitch.conf'), 'hosts: files dns\n');
    let r = await inspectSystemResolver(files());
    expect(r.view.resolvConf).toBe(`${join(dir, 'resolv.conf')} names no nameserver`);
    expect(r.nameservers).toEqual([GLIBC_DEFAULT_NAMESERVER]);
    rmSync(join(dir, 'resolv.conf'));
    rmSync(join(dir, 'nsswitch.conf'));
    r = await inspectSystemResolver(files());
    expect(r.view.resolvConf).toBe(`${join(dir, 'resolv.conf')} is missing`);
    expect(r.view.nsswitchHosts).toMatch(/has no hosts line/);
    expect(r.reachesResolved).toBe(false);
  });
});
