// The release dir for real: bundles of one version packaged twice must give identical bytes; the
// executable from the archive runs (CLI and root daemon) with no node next to it; install.sh
// installs it and refuses, in one line and without writing anything, what it must not install.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleApp } from '@tel/build';
import { archiveName, executableInArchive, versionOfArchiveName } from './archive.js';
import { copyRelease, packageRelease, SUMS_FILE, type ReleaseManifest } from './release.js';
import { verifyRelease } from './verify.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const VERSION = `v3.4.5-pkgtest.${Date.now().toString(36)}`;
const IMAGE = `localhost:5000/tel2:${VERSION}`;

let dir: string;
let first: ReleaseManifest;
let second: ReleaseManifest;
let firstMs: number;
const unpackDirs = new Set<string>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tel-release-spec-'));
  const info = { version: VERSION, registry: 'localhost:5000' };
  for (const app of ['cli', 'root-daemon', 'traffic-manager'] as const) await bundleApp(ROOT, app, info, join(dir, 'apps'));
  const opts = { workspaceRoot: ROOT, distApps: join(dir, 'apps'), version: VERSION, image: IMAGE, registry: 'localhost:5000' };
  const t0 = performance.now();
  first = await packageRelease({ ...opts, outDir: join(dir, 'r1') });
  firstMs = performance.now() - t0;
  second = await packageRelease({ ...opts, outDir: join(dir, 'r2') });
  unpackDirs.add(first.unpackId);
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  // What running the executable unpacked (as root: /var/cache; else this user's cache dir).
  for (const id of unpackDirs) rmSync(join(process.getuid?.() === 0 ? '/var/cache/telepresence/exe' : join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME!, '.cache'), 'telepresence', 'exe'), id), { recursive: true, force: true });
});

describe('packageRelease', () => {
  it('same bundles and version give byte-identical archives, SBOMs and SHA256SUMS', () => {
    const names = readdirSync(join(dir, 'r1')).sort();
    expect(names).toEqual([archiveName(VERSION), 'SHA256SUMS', 'install.sh', 'release.json', `tel2-${VERSION}.cdx.json`, `telepresence-${VERSION}-linux-amd64.cdx.json`].sort());
    for (const name of names) expect(readFileSync(join(dir, 'r2', name)).equals(readFileSync(join(dir, 'r1', name))), name).toBe(true);
    expect(second).toEqual(first);
    process.stderr.write(`package took ${(firstMs / 1000).toFixed(1)} s\n`);
  });

  it('SHA256SUMS lists every file of the release in sha256sum format, and sha256sum -c agrees', () => {
    const sums = readFileSync(join(dir, 'r1', SUMS_FILE), 'utf8');
    expect(sums.trim().split('\n')).toHaveLength(first.files.length);
    expect(execFileSync('sha256sum', ['-c', SUMS_FILE], { cwd: join(dir, 'r1'), encoding: 'utf8' })).not.toMatch(/FAILED/);
  });

  it('the archive holds only the executable, owned by root, mtime 0, and its name carries the version', () => {
    const listing = execFileSync('tar', ['-tvzf', join(dir, 'r1', archiveName(VERSION)), '--numeric-owner'], { encoding: 'utf8' }).trim().split('\n');
    expect(listing.map((l) => l.split(/\s+/).pop())).toEqual([`telepresence-${VERSION}-linux-amd64/`, `telepresence-${VERSION}-linux-amd64/bin/`, executableInArchive(VERSION)]);
    for (const l of listing) expect(l).toMatch(/ 0\/0 .* 1970-01-01 /);
    expect(versionOfArchiveName(archiveName(VERSION))).toBe(VERSION);
  });

  it('the CLI SBOM names the runtime, the bundled npm packages and the native addon', () => {
    const sbom = JSON.parse(readFileSync(join(dir, 'r1', `telepresence-${VERSION}-linux-amd64.cdx.json`), 'utf8'));
    expect(sbom.bomFormat).toBe('CycloneDX');
    expect(sbom.metadata.component.version).toBe(VERSION);
    const purls: string[] = sbom.components.map((c: { purl: string }) => c.purl);
    expect(purls).toContain('pkg:generic/nodejs/node@20.20.2');
    expect(purls.some((p) => p.startsWith('pkg:npm/koffi@'))).toBe(true);
    expect(purls.some((p) => p.startsWith('pkg:npm/%40kubernetes/client-node@'))).toBe(true);
    expect(purls.some((p) => p.includes('%40tel/'))).toBe(false);
  });

  it('verifyRelease reads the version out of the packaged CLI and root daemon and the archive name', async () => {
    const findings = await verifyRelease(join(dir, 'r1'), { version: VERSION, image: IMAGE });
    expect(findings.filter((f) => !f.ok)).toEqual([]);
    expect(findings.map((f) => f.artifact).join('\n')).toMatch(/--build-info \(CLI\)[\s\S]*daemon-foreground --build-info \(root daemon\)/);
    const wrong = await verifyRelease(join(dir, 'r1'), { version: 'v9.9.9', image: IMAGE });
    expect(wrong.filter((f) => !f.ok).length).toBeGreaterThanOrEqual(4);
  });
});

describe('the executable unpacking its bundles', () => {
  // As an unprivileged user (nobody), with a cache dir of its own: root's rule (/var/cache) is covered above.
  const asNobody = (exe: string, cache: string, args: string[]) =>
    spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', exe, ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: cache, XDG_CACHE_HOME: cache } });

  it('unpacks into XDG_CACHE_HOME/telepresence/exe/<version>-<hash> once, and refuses a dir others could have written', async () => {
    const place = mkdtempSync(join(tmpdir(), 'tel-release-nobody-'));
    try {
      chmodSync(place, 0o755);
      execFileSync('tar', ['-xzf', join(dir, 'r1', archiveName(VERSION)), '-C', place]);
      const exe = join(place, executableInArchive(VERSION));
      const cache = join(place, 'cache');
      mkdirSync(cache);
      chownSync(cache, 65534, 65534);
      const r = asNobody(exe, cache, ['--build-info']);
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout).version).toBe(VERSION);
      const unpacked = join(cache, 'telepresence', 'exe', first.unpackId);
      expect(statSync(unpacked).uid).toBe(65534);
      expect(readFileSync(join(unpacked, '.complete'), 'utf8')).toBe(`${first.unpackId}\n`);
      expect(asNobody(exe, cache, ['daemon-foreground', '--build-info']).stdout).toContain(`"app":"root-daemon"`);
      // Several first runs at once (the CLI, then both daemons, on a fresh cache): each gets a whole tree.
      const racing = join(place, 'racing');
      mkdirSync(racing);
      chownSync(racing, 65534, 65534);
      const runs = await Promise.all(
        Array.from({ length: 4 }, () => new Promise<string>((done) => {
          const c = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', exe, '--build-info'], { env: { PATH: '/usr/bin:/bin', HOME: racing, XDG_CACHE_HOME: racing } });
          let text = '';
          c.stdout.on('data', (d: Buffer) => (text += d));
          c.stderr.on('data', (d: Buffer) => (text += d));
          c.on('close', (code) => done(`${code} ${text}`));
        })),
      );
      for (const r of runs) expect(r).toContain(`0 {"app":"cli","version":"${VERSION}"`);
      expect(readdirSync(join(racing, 'telepresence', 'exe'))).toEqual([first.unpackId]);
      chmodSync(unpacked, 0o775);
      const refused = asNobody(exe, cache, ['--build-info']);
      expect(refused.status).toBe(2);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toBe(`telepresence: error: ${unpacked} is not a complete unpacked copy owned by this user; remove it ('rm -rf ${unpacked}') and run telepresence again\n`);
    } finally {
      rmSync(place, { recursive: true, force: true });
    }
  });
});

describe('install.sh', () => {
  const fresh = (): { rel: string; prefix: string } => {
    const rel = mkdtempSync(join(dir, 'rel-'));
    copyRelease(join(dir, 'r1'), rel, first);
    return { rel, prefix: join(rel, 'prefix') };
  };
  const install = (rel: string, args: string[]) => spawnSync('sh', [join(rel, 'install.sh'), ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });

  it('installs bin/telepresence under --prefix, and it runs with no node on PATH', () => {
    const { rel, prefix } = fresh();
    const r = install(rel, ['--prefix', prefix]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/installed .*prefix\/bin\/telepresence/);
    const exe = join(prefix, 'bin', 'telepresence');
    const v = spawnSync(exe, ['version'], { encoding: 'utf8', env: { PATH: join(prefix, 'bin'), HOME: rel, XDG_CACHE_HOME: join(rel, 'cache'), XDG_RUNTIME_DIR: join(rel, 'run'), XDG_CONFIG_HOME: join(rel, 'config') } });
    expect(v.stderr).toBe('');
    expect(v.stdout).toContain(`Client     : ${VERSION}`);
  });

  it.each([
    ['a corrupt archive', (rel: string) => {
      const f = join(rel, archiveName(VERSION));
      const b = readFileSync(f);
      b[b.length >> 1] = b[b.length >> 1]! ^ 0xff;
      writeFileSync(f, b);
    }, /checksum mismatch for telepresence-.*: SHA256SUMS says [0-9a-f]{64}, the file is [0-9a-f]{64}; download the archive again/],
    ['an archive SHA256SUMS does not list', (rel: string) => writeFileSync(join(rel, SUMS_FILE), readFileSync(join(rel, SUMS_FILE), 'utf8').split('\n').filter((l) => !l.includes('.tar.gz')).join('\n')), /is not listed in .*SHA256SUMS; download the SHA256SUMS of the same release/],
    ['a missing SHA256SUMS', (rel: string) => rmSync(join(rel, SUMS_FILE)), /no SHA256SUMS beside .*; download the SHA256SUMS of the same release/],
  ])('refuses %s in one line, exit 2, nothing written', (_what, spoil, message) => {
    const { rel, prefix } = fresh();
    spoil(rel);
    const r = install(rel, ['--prefix', prefix]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(prefix)).toBe(false);
  });

  it('refuses an unknown option in one line', () => {
    const { rel, prefix } = fresh();
    const r = install(rel, ['--prefx', prefix]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^install.sh: error: unknown option --prefx; usage: install.sh \[--prefix DIR\] \[ARCHIVE\]\n$/);
  });
});
