// Normalises caller-supplied LayerEntry lists into the exact, sorted set of tar entries a layer will hold.
// Pure except for reading the host files that sourcePath entries name.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ImageError } from '../errors.js';

export interface LayerEntry {
  /** Absolute or relative path inside the image; "/app/x.js" and "app/x.js" are the same. */
  path: string;
  /** Defaults: 'symlink' with linkTarget, 'file' with content or sourcePath (a directory sourcePath is copied recursively), else 'dir'. */
  type?: 'file' | 'dir' | 'symlink';
  /** Permission bits; default 0644 for files (or the source file's bits), 0755 for dirs, 0777 for symlinks. */
  mode?: number;
  content?: Buffer | string;
  /** Host file (or directory) whose bytes become this entry. */
  sourcePath?: string;
  linkTarget?: string;
}

/** One tar entry, fully resolved: what normalisation hands the tar writer. */
export interface ResolvedEntry {
  /** Normalised path, no leading or trailing slash. */
  name: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  content?: Buffer;
  linkTarget?: string;
}

function specError(what: string, hint: string): ImageError {
  return new ImageError(what, hint, { code: 'INVALID_SPEC' });
}

export function normaliseImagePath(p: string): string {
  // '..' is refused outright rather than clamped at the root: it almost always means a wrong path joined in.
  if (p.split(/[\\/]/).includes('..')) throw specError(`layer entry path '${p}' contains '..'`, "give the path inside the image without '..'");
  const norm = path.posix.normalize(`/${p.replace(/\\/g, '/')}`).replace(/^\/+/, '').replace(/\/+$/, '');
  if (!norm || norm === '.') throw specError(`layer entry path '${p}' names the image root`, 'give a path below /, e.g. /app/main.js');
  return norm;
}

async function readSource(sourcePath: string): Promise<{ stat: import('node:fs').Stats }> {
  try {
    return { stat: await fs.stat(sourcePath) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ImageError(`cannot read layer source ${sourcePath} (${code})`, 'check the path exists and is readable', {
      code: 'HOST_FILE',
      cause: err,
    });
  }
}

async function expand(entry: LayerEntry, out: Map<string, ResolvedEntry>): Promise<void> {
  const name = normaliseImagePath(entry.path);
  const type = entry.type ?? (entry.linkTarget !== undefined ? 'symlink' : entry.content !== undefined || entry.sourcePath ? 'file' : 'dir');

  if (type === 'symlink') {
    if (!entry.linkTarget) throw specError(`symlink entry ${entry.path} has no linkTarget`, 'set linkTarget to the path it points to');
    out.set(name, { name, type, mode: entry.mode ?? 0o777, linkTarget: entry.linkTarget });
    return;
  }
  if (type === 'dir' && !entry.sourcePath) {
    out.set(name, { name, type, mode: entry.mode ?? 0o755 });
    return;
  }
  if (entry.content !== undefined) {
    const content = typeof entry.content === 'string' ? Buffer.from(entry.content) : entry.content;
    out.set(name, { name, type: 'file', mode: entry.mode ?? 0o644, content });
    return;
  }
  if (!entry.sourcePath) throw specError(`file entry ${entry.path} has neither content nor sourcePath`, 'set one of them');

  const { stat } = await readSource(entry.sourcePath);
  if (stat.isDirectory()) {
    // Copy a host directory recursively; modes come from the host so executables stay executable.
    out.set(name, { name, type: 'dir', mode: entry.mode ?? stat.mode & 0o7777 });
    const children = (await fs.readdir(entry.sourcePath, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const child of children) {
      const src = path.join(entry.sourcePath, child.name);
      const childPath = `${name}/${child.name}`;
      if (child.isSymbolicLink()) {
        out.set(childPath, { name: childPath, type: 'symlink', mode: 0o777, linkTarget: await fs.readlink(src) });
      } else {
        await expand({ path: childPath, sourcePath: src }, out);
      }
    }
    return;
  }
  const content = await fs.readFile(entry.sourcePath);
  out.set(name, { name, type: 'file', mode: entry.mode ?? stat.mode & 0o7777, content });
}

/**
 * Resolves entries into the sorted tar entry list: later entries for the same path win,
 * every missing parent directory is added (0755), and a parent that is not a directory is an error.
 */
export async function resolveEntries(entries: LayerEntry[]): Promise<ResolvedEntry[]> {
  const byName = new Map<string, ResolvedEntry>();
  for (const e of entries) await expand(e, byName);

  for (const e of [...byName.values()]) {
    let dir = path.posix.dirname(e.name);
    while (dir !== '.' && dir !== '/') {
      const existing = byName.get(dir);
      if (!existing) {
        byName.set(dir, { name: dir, type: 'dir', mode: 0o755 });
      } else if (existing.type !== 'dir') {
        throw specError(
          `layer entry /${e.name} lies under /${dir}, which the same layer makes a ${existing.type}`,
          `put /${e.name} at the path /${dir} resolves to, or make /${dir} a directory`,
        );
      }
      dir = path.posix.dirname(dir);
    }
  }
  // Code-unit order, not localeCompare: the order must not depend on the machine's locale.
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
