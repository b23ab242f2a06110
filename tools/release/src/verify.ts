// verify-version for the release dir: the version read out of the packaged executable itself (its
// CLI and its root daemon, run from the archive), the archive's name, SHA256SUMS against the
// files, and (with image) the image SBOM found in the registry as a referrer of the image.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient, parseImageRef } from '@tel/image';
import type { BuildInfo } from '@tel/genversion';
import { executableInArchive, sha256Hex, versionOfArchiveName } from './archive.js';
import { listSbomReferrers } from './referrer.js';
import { readReleaseManifest, SUMS_FILE } from './release.js';

export interface Finding {
  artifact: string;
  version: string | null;
  ok: boolean;
}

/** Where the executable unpacks for this user (bootstrap.cjs's rule), to remove what a check unpacked. */
function unpackDir(id: string, env: NodeJS.ProcessEnv): string {
  if (process.getuid?.() === 0) return join('/var/cache/telepresence/exe', id);
  return join(env.XDG_CACHE_HOME || join(env.HOME ?? tmpdir(), '.cache'), 'telepresence', 'exe', id);
}

function buildInfoOf(exe: string, args: string[]): string | null {
  try {
    return (JSON.parse(execFileSync(exe, [...args, '--build-info'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { version: string }).version;
  } catch {
    return null;
  }
}

export async function verifyRelease(outDir: string, info: Pick<BuildInfo, 'version' | 'image'>): Promise<Finding[]> {
  const manifest = readReleaseManifest(outDir);
  if (!manifest) return [{ artifact: `${outDir}/release.json (missing: run 'npx nx run cli:package')`, version: null, ok: false }];
  const findings: Finding[] = [{ artifact: `${outDir}/release.json`, version: manifest.version, ok: manifest.version === info.version }];
  const archive = manifest.files.find((f) => f.kind === 'archive');
  if (!archive) return [...findings, { artifact: 'release archive (not listed in release.json)', version: null, ok: false }];
  findings.push({ artifact: `archive name ${archive.name}`, version: versionOfArchiveName(archive.name) ?? null, ok: versionOfArchiveName(archive.name) === info.version });
  // SHA256SUMS must match the bytes on disk; a file that differs carries no trustworthy version.
  const sums = readFileSync(join(outDir, SUMS_FILE), 'utf8');
  for (const f of manifest.files) {
    const listed = sums.split('\n').find((l) => l.endsWith(`  ${f.name}`))?.split('  ')[0];
    const actual = existsSync(join(outDir, f.name)) ? sha256Hex(readFileSync(join(outDir, f.name))) : 'missing';
    if (listed !== actual) findings.push({ artifact: `${f.name} (sha256 ${actual} but SHA256SUMS says ${listed ?? 'nothing'})`, version: null, ok: false });
  }
  const dir = mkdtempSync(join(tmpdir(), 'tel-verify-release-'));
  const unpacked = unpackDir(manifest.unpackId, process.env);
  const existed = existsSync(unpacked);
  try {
    execFileSync('tar', ['-xzf', join(outDir, archive.name), '-C', dir]);
    const exe = join(dir, executableInArchive(manifest.version));
    for (const [what, args] of [
      ['CLI', []],
      ['root daemon', ['daemon-foreground']],
    ] as const) {
      const version = buildInfoOf(exe, [...args]);
      findings.push({ artifact: `${archive.name}: telepresence ${[...args, '--build-info'].join(' ')} (${what})`, version, ok: version === info.version });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    // What this check unpacked is not an install: leave the cache as it was.
    if (!existed) rmSync(unpacked, { recursive: true, force: true });
  }
  return findings;
}

/** The image has a CycloneDX referrer whose blob is, byte for byte, this build's image SBOM. */
export async function verifyImageSbom(sbom: Buffer, sbomName: string, info: Pick<BuildInfo, 'version' | 'image'>): Promise<Finding> {
  const artifact = `${info.image} SBOM referrer (${sbomName})`;
  const ref = parseImageRef(info.image);
  const client = new RegistryClient(ref.registry);
  const want = `sha256:${sha256Hex(sbom)}`;
  for (const r of await listSbomReferrers(info.image, client)) {
    const m = await client.getManifest(ref.repository, r.digest);
    if ((m?.json?.layers ?? []).some((l: { digest: string }) => l.digest === want)) return { artifact: `${artifact} by ${r.listedBy}`, version: info.version, ok: true };
  }
  return { artifact: `${artifact}: not attached (run 'npx nx run traffic-manager:push-sbom')`, version: null, ok: false };
}
