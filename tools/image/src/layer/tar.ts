// Deterministic layer blobs: sorted tar entries with fixed metadata, gzip with fixed settings, digests of both.
//
// Why tar-stream and not a hand-written tar: ustar has sharp edges (name/prefix split at 100/155 bytes,
// PAX records for long names and link targets, octal field overflow) that tar-stream handles and is
// widely used and maintained; we only pin every header field it would otherwise take from the host.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { type LayerEntry, resolveEntries, type ResolvedEntry } from './entries.js';
import { LayerCache } from './cache.js';

/**
 * Every entry's mtime is the Unix epoch, NOT the spec's created time: that way a layer whose files did not
 * change between two commits has the same digest, so a push after a new commit skips it instead of
 * re-uploading it. The image's creation time lives only in the config (created/history).
 */
export const LAYER_MTIME = new Date(0);

/** Fixed so the same tar always gzips to the same bytes with a given zlib (6 = zlib's default ratio/speed). */
export const GZIP_LEVEL = 6;

export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface BuiltLayer {
  mediaType: typeof OCI_LAYER_GZIP;
  /** sha256 of the gzip blob: what the manifest and registry name it by. */
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar: what the config's rootfs.diff_ids lists. */
  diffId: string;
  blob: Buffer;
  entryCount: number;
  /** True when the gzip came from the on-disk cache. */
  cached: boolean;
}

export function sha256(buf: Buffer): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

/** Writes resolved entries as a tar: uid/gid 0 numeric, empty uname/gname, mtime epoch. */
export async function writeTar(entries: ResolvedEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const e of entries) {
    const header: tar.Header = {
      name: e.type === 'dir' ? `${e.name}/` : e.name,
      mode: e.mode,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
      mtime: LAYER_MTIME,
      type: e.type === 'dir' ? 'directory' : e.type,
      linkname: e.type === 'symlink' ? (e.linkTarget ?? '') : '',
      size: e.type === 'file' ? (e.content?.length ?? 0) : 0,
      devmajor: 0,
      devminor: 0,
    };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (e.type === 'file') pack.entry(header, e.content ?? Buffer.alloc(0), cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const gzipAsync = promisify(zlib.gzip);

/**
 * Big layers are gzipped as independent members of GZIP_MEMBER_BYTES of tar each, compressed concurrently
 * on libuv's thread pool and concatenated. A multi-member gzip is one valid gzip stream (RFC 1952 §2.2) that
 * Go's gzip reader (containerd, skopeo), GNU gzip and Node's zlib all read whole. The member size is fixed,
 * so the output depends only on the content, never on the machine's core count.
 */
export const GZIP_MEMBER_BYTES = 16 * 1024 * 1024;

async function gzipMember(buf: Buffer): Promise<Buffer> {
  const gz = await gzipAsync(buf, { level: GZIP_LEVEL });
  gz[9] = 3;
  return gz;
}

/**
 * gzip with fixed level; Node writes mtime 0 and no file name in the header. We also pin the OS byte
 * (offset 9) to 3 (Unix) so the blob does not depend on the platform zlib was built for.
 */
export async function gzipDeterministic(buf: Buffer): Promise<Buffer> {
  if (buf.length <= GZIP_MEMBER_BYTES) return gzipMember(buf);
  const members: Buffer[] = [];
  for (let off = 0; off < buf.length; off += GZIP_MEMBER_BYTES) members.push(buf.subarray(off, off + GZIP_MEMBER_BYTES));
  return Buffer.concat(await Promise.all(members.map(gzipMember)));
}

export interface BuildLayerOptions {
  /** Cache for gzip output of big layers, keyed by diffId; null disables it. */
  cache?: LayerCache | null;
}

/** Builds one layer: resolve entries, tar, hash, gzip (or reuse the cached gzip of identical content). */
export async function buildLayer(entries: LayerEntry[], opts: BuildLayerOptions = {}): Promise<BuiltLayer> {
  const resolved = await resolveEntries(entries);
  const tarBuf = await writeTar(resolved);
  const diffId = sha256(tarBuf);
  const cache = opts.cache === undefined ? LayerCache.default() : opts.cache;
  const hit = cache ? await cache.get(diffId) : null;
  if (hit) {
    return { mediaType: OCI_LAYER_GZIP, digest: hit.digest, size: hit.blob.length, diffId, blob: hit.blob, entryCount: resolved.length, cached: true };
  }
  const blob = await gzipDeterministic(tarBuf);
  const digest = sha256(blob);
  if (cache && cache.worthCaching(tarBuf.length)) await cache.put(diffId, digest, blob);
  return { mediaType: OCI_LAYER_GZIP, digest, size: blob.length, diffId, blob, entryCount: resolved.length, cached: false };
}
