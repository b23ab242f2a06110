import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { computeVersion, validateVersion } from './version.js';
import { computeBuildInfo, DEFAULT_BUILD_REGISTRY } from './build-info.js';

// Real git repositories in temp dirs: each case builds the state, then asks for the version.
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.invalid',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.invalid',
  GIT_AUTHOR_DATE: '2024-01-02T03:04:05Z',
  GIT_COMMITTER_DATE: '2024-01-02T03:04:05Z',
};

function repo(): { dir: string; git: (...a: string[]) => string; commit: (file?: string) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'genversion-'));
  dirs.push(dir);
  const git = (...a: string[]) => execFileSync('git', a, { cwd: dir, env: GIT_ENV, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  let n = 0;
  const commit = (file = `f${n++}.txt`) => {
    writeFileSync(join(dir, file), `content ${n}\n`);
    git('add', '-A');
    git('commit', '-qm', `c ${n}`);
  };
  return { dir, git, commit };
}

const noEnv = {} as NodeJS.ProcessEnv;

describe('computeVersion over git states', () => {
  it('exact tag gives the tag', async () => {
    const r = repo();
    r.commit();
    r.git('tag', 'v2.5.3');
    const v = await computeVersion(r.dir, noEnv);
    expect(v).toMatchObject({ version: 'v2.5.3', source: 'tag', dirty: false, commitTime: '2024-01-02T03:04:05.000Z' });
    expect(v.revision).toBe(r.git('rev-parse', 'HEAD'));
  });

  it('commits after a tag give the nightly form', async () => {
    const r = repo();
    r.commit();
    r.git('tag', 'v2.5.4');
    r.commit();
    r.commit();
    const short = r.git('rev-parse', '--short=8', 'HEAD');
    const v = await computeVersion(r.dir, noEnv);
    expect(v.source).toBe('nightly');
    expect(v.version).toMatch(/^v2\.5\.4-2-g[0-9a-f]{7,}$/);
    expect(short.startsWith(v.version.split('-g')[1]!.slice(0, 7))).toBe(true);
  });

  it('ignores tags that do not start with v', async () => {
    const r = repo();
    r.commit();
    r.git('tag', 'v1.0.0');
    r.commit();
    r.git('tag', 'release-9');
    expect((await computeVersion(r.dir, noEnv)).version).toMatch(/^v1\.0\.0-1-g/);
  });

  it('a dirty tree gets a content-derived suffix: same content, same version; new content, new version', async () => {
    const r = repo();
    r.commit('a.txt');
    r.git('tag', 'v3.0.0');
    writeFileSync(join(r.dir, 'a.txt'), 'changed\n');
    const v1 = await computeVersion(r.dir, noEnv);
    const v2 = await computeVersion(r.dir, noEnv);
    expect(v1.version).toMatch(/^v3\.0\.0-dirty-[0-9a-f]{8}$/);
    expect(v1.dirty).toBe(true);
    expect(v2.version).toBe(v1.version);
    writeFileSync(join(r.dir, 'untracked.txt'), 'new\n');
    const v3 = await computeVersion(r.dir, noEnv);
    expect(v3.version).not.toBe(v1.version);
    writeFileSync(join(r.dir, 'untracked.txt'), 'newer\n');
    expect((await computeVersion(r.dir, noEnv)).version).not.toBe(v3.version);
  });

  it('ignored files do not make the tree dirty', async () => {
    const r = repo();
    writeFileSync(join(r.dir, '.gitignore'), 'dist/\n');
    r.commit();
    r.git('tag', 'v1.2.3');
    execFileSync('mkdir', ['-p', join(r.dir, 'dist')]);
    writeFileSync(join(r.dir, 'dist', 'x'), 'build output');
    expect((await computeVersion(r.dir, noEnv)).version).toBe('v1.2.3');
  });

  it('dirty nightly stays valid semver', async () => {
    const r = repo();
    r.commit();
    r.git('tag', 'v2.5.4');
    r.commit();
    writeFileSync(join(r.dir, 'x'), 'y');
    const v = await computeVersion(r.dir, noEnv);
    expect(v.version).toMatch(/^v2\.5\.4-1-g[0-9a-f]+-dirty-[0-9a-f]{8}$/);
    expect(() => validateVersion(v.version)).not.toThrow();
  });

  it('a repository without v* tags falls back to v0.0.0-<commits>-g<hash>', async () => {
    const r = repo();
    r.commit();
    r.commit();
    r.commit();
    const v = await computeVersion(r.dir, noEnv);
    expect(v.source).toBe('untagged');
    expect(v.version).toBe(`v0.0.0-3-g${r.git('rev-parse', 'HEAD').slice(0, 8)}`);
  });

  it('TELEPRESENCE_VERSION overrides git', async () => {
    const r = repo();
    r.commit();
    r.git('tag', 'v1.0.0');
    const v = await computeVersion(r.dir, { TELEPRESENCE_VERSION: 'v2.5.4-2-g8ccf3c9d' });
    expect(v).toMatchObject({ version: 'v2.5.4-2-g8ccf3c9d', source: 'env' });
  });

  it.each(['2.5.4', 'v2.5', 'v2.5.4.1', 'latest', 'v02.5.4', 'v2.5.4 ', 'v2.5.4+'])('refuses TELEPRESENCE_VERSION=%j with the expected form', async (bad) => {
    const r = repo();
    r.commit();
    await expect(computeVersion(r.dir, { TELEPRESENCE_VERSION: bad })).rejects.toThrow(
      /^invalid TELEPRESENCE_VERSION .*expected 'v' followed by a semantic version, e\.g\. v2\.5\.4 or v2\.5\.4-2-g8ccf3c9d$/,
    );
  });

  it('outside a repository, asks for TELEPRESENCE_VERSION', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'genversion-norepo-'));
    dirs.push(dir);
    await expect(computeVersion(dir, { GIT_CEILING_DIRECTORIES: tmpdir() })).rejects.toThrow(/not a git repository/);
    expect((await computeVersion(dir, { TELEPRESENCE_VERSION: 'v1.0.0' })).version).toBe('v1.0.0');
  });

  it('a repository with no commits asks for TELEPRESENCE_VERSION', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'genversion-empty-'));
    dirs.push(dir);
    execFileSync('git', ['init', '-q'], { cwd: dir });
    await expect(computeVersion(dir, noEnv)).rejects.toThrow(/has no commits/);
  });
});

describe('computeBuildInfo', () => {
  it('uses TELEPRESENCE_REGISTRY and names the image after it', async () => {
    const r = repo();
    r.commit();
    const info = await computeBuildInfo(r.dir, { TELEPRESENCE_VERSION: 'v2.5.4', TELEPRESENCE_REGISTRY: 'registry.example.com/team' });
    expect(info.image).toBe('registry.example.com/team/tel2:v2.5.4');
  });

  it('falls back to the one default registry', async () => {
    const r = repo();
    r.commit();
    expect((await computeBuildInfo(r.dir, { TELEPRESENCE_VERSION: 'v1.0.0' })).registry).toBe(DEFAULT_BUILD_REGISTRY);
  });

  it.each(['https://reg.io', 'reg.io/Team', 'reg.io/x:tag', 'reg io'])('refuses TELEPRESENCE_REGISTRY=%j', async (bad) => {
    const r = repo();
    r.commit();
    await expect(computeBuildInfo(r.dir, { TELEPRESENCE_VERSION: 'v1.0.0', TELEPRESENCE_REGISTRY: bad })).rejects.toThrow(/invalid registry/);
  });
});
