// On-disk cache of gzipped layer blobs keyed by the uncompressed tar's digest (diffId), so rebuilding a
// big layer (a Node runtime base) costs a tar + hash, not a multi-second gzip. Lives under the user's cache dir.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';

/** Layers below this uncompressed size gzip in milliseconds; caching them would only litter the disk. */
const MIN_CACHED_BYTES = 4 * 1024 * 1024;

export class LayerCache {
  constructor(readonly dir: string) {}

  /** $TELEPRESENCE_IMAGE_CACHE, else $XDG_CACHE_HOME/telepresence/image, else ~/.cache/telepresence/image. */
  static default(): LayerCache {
    const explicit = process.env.TELEPRESENCE_IMAGE_CACHE;
    if (explicit) return new LayerCache(explicit);
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    return new LayerCache(path.join(base, 'telepresence', 'image'));
  }

  worthCaching(uncompressedBytes: number): boolean {
    return uncompressedBytes >= MIN_CACHED_BYTES;
  }

  private file(diffId: string): string {
    return path.join(this.dir, 'gzip', `${diffId.replace(':', '-')}.tar.gz`);
  }

  /** Returns the cached blob, verified against the digest recorded beside it; a corrupt entry is a miss. */
  async get(diffId: string): Promise<{ digest: string; blob: Buffer } | null> {
    const file = this.file(diffId);
    try {
      const [blob, digest] = await Promise.all([fs.readFile(file), fs.readFile(`${file}.digest`, 'utf8')]);
      const actual = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      return actual === digest.trim() ? { digest: actual, blob } : null;
    } catch {
      return null;
    }
  }

  /** Best effort: a read-only or full disk must not fail a build. Written via rename so readers never see half a file. */
  async put(diffId: string, digest: string, blob: Buffer): Promise<void> {
    const file = this.file(diffId);
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(tmp, blob);
      await fs.writeFile(`${file}.digest`, digest);
      await fs.rename(tmp, file);
    } catch {
      await fs.rm(tmp, { force: true }).catch(() => {});
    }
  }
}
