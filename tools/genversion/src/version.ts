// Computes the one version of a build: TELEPRESENCE_VERSION when set, else `git describe`.
// Every Nx task reads the result from dist/version/version.json, never computes its own.
import { createHash } from 'node:crypto';
import { readFileSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseVersion } from '@tel/version';
import { simpleGit } from 'simple-git';
import { TelError } from '@tel/errors';

/** Where the version came from; printed by genversion so a CI log shows why. */
export type VersionSource = 'env' | 'tag' | 'nightly' | 'untagged';

export interface ComputedVersion {
  version: string;
  source: VersionSource;
  /** Full commit hash, or undefined outside a repository / before the first commit. */
  revision?: string;
  /** Commit time (ISO 8601, UTC); used for image `created` so rebuilds are reproducible. */
  commitTime?: string;
  /** True when the work tree has uncommitted changes (and the version carries a content suffix). */
  dirty: boolean;
}

/** Version used for a repository that has commits but no `v*` tag: `v0.0.0-<commits>-g<hash>`. */
export const UNTAGGED_BASE = 'v0.0.0';

const EXPECTED_FORM = "expected 'v' followed by a semantic version, e.g. v2.5.4 or v2.5.4-2-g8ccf3c9d";

/** Throws a one-line config error unless `v` is `v` + semver. */
export function validateVersion(v: string, origin = 'TELEPRESENCE_VERSION'): string {
  if (!parseVersion(v)) {
    throw new TelError('config', `invalid ${origin} ${JSON.stringify(v)}: ${EXPECTED_FORM}`, `set ${origin} to e.g. v2.5.4`);
  }
  return v;
}

export async function computeVersion(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<ComputedVersion> {
  const git = simpleGit({ baseDir: cwd });
  // One git call for revision and commit time; it fails outside a repo and before the first commit.
  const head = await git.raw(['log', '-1', '--format=%H%n%cI', 'HEAD']).catch(() => undefined);
  const [revision, committed] = head ? head.trim().split('\n') : [];
  const commitTime = committed ? new Date(committed).toISOString() : undefined;

  const fromEnv = env.TELEPRESENCE_VERSION;
  if (fromEnv !== undefined && fromEnv !== '') {
    return { version: validateVersion(fromEnv), source: 'env', revision, commitTime, dirty: false };
  }
  if (!revision) {
    const inRepo = await git.checkIsRepo().catch(() => false);
    throw new TelError(
      'config',
      `cannot derive a version: ${inRepo ? 'the repository has no commits' : `${cwd} is not a git repository`}`,
      'set TELEPRESENCE_VERSION, e.g. TELEPRESENCE_VERSION=v2.5.4',
    );
  }

  let version: string;
  let source: VersionSource;
  try {
    version = (await git.raw(['describe', '--tags', '--match=v*'])).trim();
    source = /-\d+-g[0-9a-f]+$/.test(version) ? 'nightly' : 'tag';
  } catch {
    // No v* tag reachable: count commits so versions still increase along the branch.
    const count = (await git.raw(['rev-list', '--count', 'HEAD'])).trim();
    version = `${UNTAGGED_BASE}-${count}-g${revision.slice(0, 8)}`;
    source = 'untagged';
  }
  validateVersion(version, `version from 'git describe' (${version})`);

  const suffix = await dirtySuffix(cwd, revision);
  // One prerelease identifier, `-dirty-<hash>`, keeps the result valid semver whatever the hash.
  if (suffix) version = `${version}-dirty-${suffix}`;
  return { version: validateVersion(version, 'computed version'), source, revision, commitTime, dirty: suffix !== undefined };
}

/**
 * A short hash of the uncommitted content (tracked changes and untracked, non-ignored files), so
 * two builds of the same dirty tree get the same version and any edit gets a new one.
 */
export async function dirtySuffix(cwd: string, revision: string): Promise<string | undefined> {
  const git = simpleGit({ baseDir: cwd });
  const status = await git.raw(['status', '--porcelain=v1', '-z', '--untracked-files=all']);
  const entries = status.split('\0').filter(Boolean);
  const paths: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    paths.push(entry.slice(3));
    // A rename or copy is followed by its source path, which carries no status prefix.
    if (entry[0] === 'R' || entry[0] === 'C') paths.push(entries[++i]!);
  }
  paths.sort();
  if (paths.length === 0) return undefined;
  const hash = createHash('sha256');
  hash.update(revision);
  for (const p of paths) {
    hash.update(`\0${p}\0`);
    hash.update(readWorktree(join(cwd, p)));
  }
  return hash.digest('hex').slice(0, 8);
}

function readWorktree(file: string): Buffer | string {
  try {
    const st = lstatSync(file);
    if (st.isSymbolicLink()) return `symlink:${readlinkSync(file)}`;
    if (st.isDirectory()) return 'dir';
    return readFileSync(file);
  } catch {
    return 'deleted';
  }
}
