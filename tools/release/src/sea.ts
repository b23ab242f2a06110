// The single `telepresence` executable: the pinned Node runtime with the CLI and root daemon
// bundles (and the native packages vendored beside them) injected as a single-executable blob,
// run by sea/bootstrap.cjs. Same bundles + same runtime → same bytes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { TelError } from '@tel/errors';

/** The bundles inside the executable; the user daemon is the CLI bundle's `connector-foreground`. */
export const PACKAGED_APPS = ['cli', 'root-daemon'] as const;

/** Where Node looks for the blob: the resource name and the fuse it flips (fixed by Node's SEA). */
const SEA_RESOURCE = 'NODE_SEA_BLOB';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** postject ships no types; the one call we make. */
const postject = createRequire(import.meta.url)('postject') as {
  inject(file: string, resource: string, data: Buffer, opts: { sentinelFuse: string }): Promise<void>;
};

/** A CommonJS file loaded from disk has import(), which the SEA main script lacks (bootstrap.cjs). */
const LOADER = { path: 'loader.cjs', content: 'module.exports = (url) => import(url);\n' };

export interface PackagedFile {
  /** Path below the unpack dir, '/'-separated. */
  path: string;
  mode: number;
  content: Buffer;
}

/** Every file of the packaged apps' dist dirs, sorted, with 0755/0644 modes only. */
export function packagedFiles(distApps: string): PackagedFile[] {
  const files: PackagedFile[] = [{ path: LOADER.path, mode: 0o644, content: Buffer.from(LOADER.content) }];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else files.push({ path: relative(distApps, full).split('\\').join('/'), mode: st.mode & 0o111 ? 0o755 : 0o644, content: readFileSync(full) });
    }
  };
  for (const app of PACKAGED_APPS) {
    try {
      statSync(join(distApps, app, 'main.js'));
    } catch {
      throw new TelError('user', `${join(distApps, app, 'main.js')} is missing`, "build first: 'npx nx run-many -t build package'");
    }
    walk(join(distApps, app));
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export interface SeaManifest {
  /** The unpack dir's name: the version and a hash of every file, so two builds never share a dir. */
  id: string;
  entries: { cli: string; 'root-daemon': string; loader: string };
  files: { path: string; mode: number; asset: string }[];
}

export function seaManifest(version: string, files: PackagedFile[]): SeaManifest {
  const listed = files.map((f) => ({ path: f.path, mode: f.mode, asset: sha256(f.content) }));
  const id = `${version}-${sha256(JSON.stringify(listed)).slice(0, 16)}`;
  return { id, entries: { cli: 'cli/main.js', 'root-daemon': 'root-daemon/main.js', loader: LOADER.path }, files: listed };
}

export interface ExecutableOptions {
  workspaceRoot: string;
  distApps: string;
  version: string;
  /** The official runtime the executable is made of (node-runtime.ts). */
  nodeBinary: string;
  /** Scratch dir for the blob and its inputs; removed afterwards. */
  workDir: string;
  outFile: string;
}

/**
 * 1. collect the files and write each distinct content once as an asset (the root daemon's koffi
 *    is the CLI's, byte for byte);
 * 2. let the runtime itself write the blob (its format belongs to that Node version);
 * 3. copy the runtime and inject the blob with postject.
 */
export async function buildExecutable(opts: ExecutableOptions): Promise<{ manifest: SeaManifest; size: number }> {
  const files = packagedFiles(opts.distApps);
  const manifest = seaManifest(opts.version, files);
  rmSync(opts.workDir, { recursive: true, force: true });
  mkdirSync(join(opts.workDir, 'assets'), { recursive: true });
  // Paths relative to the work dir: the blob records the main script's path as given.
  const assets: Record<string, string> = { 'manifest.json': 'manifest.json' };
  writeFileSync(join(opts.workDir, 'manifest.json'), JSON.stringify(manifest));
  for (const [i, f] of files.entries()) {
    const key = manifest.files[i]!.asset;
    if (assets[key]) continue;
    assets[key] = `assets/${key}`;
    writeFileSync(join(opts.workDir, assets[key]), f.content);
  }
  const main = 'bootstrap.cjs';
  copyFileSync(join(opts.workspaceRoot, 'tools', 'release', 'src', 'sea', 'bootstrap.cjs'), join(opts.workDir, main));
  const blob = 'sea.blob';
  const config = { main, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false, assets };
  writeFileSync(join(opts.workDir, 'sea-config.json'), JSON.stringify(config, null, 2));
  try {
    execFileSync(opts.nodeBinary, ['--experimental-sea-config', join(opts.workDir, 'sea-config.json')], { cwd: opts.workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new TelError('bug', `writing the single-executable blob failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? (err as Error).message}`);
  }
  mkdirSync(join(opts.outFile, '..'), { recursive: true });
  rmSync(opts.outFile, { force: true });
  copyFileSync(opts.nodeBinary, opts.outFile);
  chmodSync(opts.outFile, 0o755);
  await quietly(() => postject.inject(opts.outFile, SEA_RESOURCE, readFileSync(join(opts.workDir, blob)), { sentinelFuse: SEA_FUSE }));
  rmSync(opts.workDir, { recursive: true, force: true });
  return { manifest, size: statSync(opts.outFile).size };
}

/**
 * postject's ELF library warns about every note section of Node's binary it cannot name ("Can't
 * find string offset"): harmless for our one resource, and noise in every package run.
 */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const saved = { log: console.log, warn: console.warn, error: console.error };
  const keep = (orig: (...a: unknown[]) => void) => (...a: unknown[]) => (/string offset for section name/.test(String(a[0])) ? undefined : orig(...a));
  Object.assign(console, { log: keep(saved.log), warn: keep(saved.warn), error: keep(saved.error) });
  try {
    return await fn();
  } finally {
    Object.assign(console, saved);
  }
}
