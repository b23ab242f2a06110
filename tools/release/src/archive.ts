// The release archive and its checksums: `telepresence-<version>-linux-amd64.tar.gz` holding
// `telepresence-<version>-linux-amd64/bin/telepresence`, written with the image layers' tar and
// gzip (fixed order, owners, modes and mtimes; gzip without a timestamp), so the same executable
// always gives the same archive bytes.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { buildLayer } from '@tel/image';

/** The one platform built today, in the names Go and 2.x releases use. */
export const RELEASE_PLATFORM = 'linux-amd64';

export function archiveBase(version: string): string {
  return `telepresence-${version}-${RELEASE_PLATFORM}`;
}

export function archiveName(version: string): string {
  return `${archiveBase(version)}.tar.gz`;
}

/** The version an archive's file name carries, or undefined when the name is not one of ours. */
export function versionOfArchiveName(name: string): string | undefined {
  const m = new RegExp(`^telepresence-(v[^/]+)-${RELEASE_PLATFORM}\\.tar\\.gz$`).exec(basename(name));
  return m?.[1];
}

/** Path of the executable inside the archive. */
export function executableInArchive(version: string): string {
  return `${archiveBase(version)}/bin/telepresence`;
}

export async function writeArchive(executable: string, version: string, outFile: string): Promise<Buffer> {
  const base = archiveBase(version);
  const layer = await buildLayer(
    [
      { path: base, type: 'dir', mode: 0o755 },
      { path: `${base}/bin`, type: 'dir', mode: 0o755 },
      { path: executableInArchive(version), content: readFileSync(executable), mode: 0o755 },
    ],
    { cache: null },
  );
  writeFileSync(outFile, layer.blob);
  return layer.blob;
}

export function sha256Hex(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** `sha256sum` format (two spaces: text mode), sorted by file name so the file itself is stable. */
export function sha256Sums(files: Record<string, Buffer>): string {
  return Object.keys(files)
    .sort()
    .map((name) => `${sha256Hex(files[name]!)}  ${name}\n`)
    .join('');
}
