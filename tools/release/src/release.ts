// The release dir of a build (dist/release): the archive with the single executable, install.sh,
// a CycloneDX SBOM for the CLI and one for the tel2 image, SHA256SUMS over all of them, and
// release.json listing each file (and, once attached, where the image SBOM sits in the registry).
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPS, EXTRA_BUNDLES, IMAGE_NFT_PATH, baseImageRef } from '@tel/build';
import { hostBinaryEntries } from '@tel/image';
import { archiveName, RELEASE_PLATFORM, sha256Hex, sha256Sums, writeArchive } from './archive.js';
import { nodeRuntime, NODE_RUNTIME } from './node-runtime.js';
import { bundledPackages, cycloneDx, debianPackagesOf, nodeRuntimeComponent, vendoredPackages, type Component } from './sbom.js';
import { buildExecutable, PACKAGED_APPS } from './sea.js';

export const INSTALL_SCRIPT = 'install.sh';
export const SUMS_FILE = 'SHA256SUMS';
export const RELEASE_MANIFEST = 'release.json';

export const cliSbomName = (version: string) => `telepresence-${version}-${RELEASE_PLATFORM}.cdx.json`;
export const imageSbomName = (version: string) => `tel2-${version}.cdx.json`;

export interface ReleaseFile {
  name: string;
  kind: 'archive' | 'install-script' | 'sbom-cli' | 'sbom-image';
  sha256: string;
  size: number;
}

export interface ReleaseManifest {
  version: string;
  platform: string;
  /** The image this release's manager and agents run, and its SBOM in the registry once attached. */
  image: { ref: string; sbom: string; referrer?: { subject: string; digest: string; listedBy: string; tag?: string } };
  /** Name of the dir the executable unpacks its bundles into (bootstrap.cjs). */
  unpackId: string;
  nodeRuntime: string;
  files: ReleaseFile[];
}

export interface ReleaseOptions {
  workspaceRoot: string;
  /** dist/apps of this build: cli, root-daemon and traffic-manager bundles. */
  distApps: string;
  version: string;
  /** `<registry>/tel2:<version>` */
  image: string;
  registry: string;
  outDir: string;
}

/** The CLI's SBOM: what the executable carries (both bundles, their native packages, the runtime). */
export async function cliSbom(opts: Pick<ReleaseOptions, 'workspaceRoot' | 'distApps' | 'version'>): Promise<string> {
  const components: Component[] = [nodeRuntimeComponent(NODE_RUNTIME.version)];
  for (const app of PACKAGED_APPS) {
    components.push(...(await bundledPackages(opts.workspaceRoot, APPS[app])), ...vendoredPackages(join(opts.distApps, app)));
  }
  const subject: Component = { type: 'application', name: 'telepresence', version: opts.version, purl: `pkg:generic/telepresence@${opts.version}` };
  return cycloneDx(subject, components);
}

/**
 * The tel2 image's SBOM: the manager and agent bundles' npm packages, and the host files the
 * image is made of (image.ts: the base's node and libraries, nft and its libraries) by the Debian
 * package that owns them; a node dpkg does not know is the Node runtime of its own version. A base
 * given by TELEPRESENCE_BASE_IMAGE is someone else's: only our layers are listed then.
 */
export async function imageSbom(opts: Pick<ReleaseOptions, 'workspaceRoot' | 'version' | 'image' | 'registry'>, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const tm = 'traffic-manager' as const;
  const components: Component[] = [];
  for (const entry of [APPS[tm], ...Object.values(EXTRA_BUNDLES[tm] ?? {})]) components.push(...(await bundledPackages(opts.workspaceRoot, entry)));
  const ownBase = !env.TELEPRESENCE_BASE_IMAGE;
  const hostFiles = hostBinaryEntries(ownBase ? ['/usr/bin/node', IMAGE_NFT_PATH] : [IMAGE_NFT_PATH]).flatMap((e) => (e.sourcePath ? [e.sourcePath] : []));
  if (ownBase) hostFiles.push('/etc/ssl/certs/ca-certificates.crt');
  const deb = debianPackagesOf(hostFiles);
  // update-ca-certificates writes this bundle from the ca-certificates package: dpkg owns no such file.
  if (deb.unowned.includes('/etc/ssl/certs/ca-certificates.crt')) components.push(...debianPackagesOf(['/usr/sbin/update-ca-certificates']).components);
  components.push(...deb.components);
  if (deb.unowned.some((f) => /\/node$/.test(f))) components.push(nodeRuntimeComponent(process.version));
  const repo = opts.image.replace(/:[^:/]+$/, '');
  const subject: Component = {
    type: 'container',
    name: 'tel2',
    version: opts.version,
    purl: `pkg:oci/tel2?repository_url=${encodeURIComponent(repo)}&tag=${encodeURIComponent(opts.version)}`,
    ...(ownBase ? {} : { description: `layers over ${baseImageRef({ registry: opts.registry }, env)}, whose contents are not listed` }),
  };
  return cycloneDx(subject, components);
}

/**
 * 1. the executable (sea.ts) from the built bundles and the pinned runtime;
 * 2. the archive, then the SBOMs and install.sh beside it;
 * 3. SHA256SUMS over those four, and release.json.
 * The dir is emptied first, so it never mixes two versions.
 */
export async function packageRelease(opts: ReleaseOptions): Promise<ReleaseManifest> {
  const node = nodeRuntime(opts.workspaceRoot);
  rmSync(opts.outDir, { recursive: true, force: true });
  mkdirSync(opts.outDir, { recursive: true });
  const scratch = mkdtempSync(join(opts.outDir, '.work-'));
  const files: Record<string, { kind: ReleaseFile['kind']; bytes: Buffer }> = {};
  let unpackId: string;
  try {
    const exe = join(scratch, 'telepresence');
    const { manifest } = await buildExecutable({ workspaceRoot: opts.workspaceRoot, distApps: opts.distApps, version: opts.version, nodeBinary: node, workDir: join(scratch, 'sea'), outFile: exe });
    unpackId = manifest.id;
    files[archiveName(opts.version)] = { kind: 'archive', bytes: await writeArchive(exe, opts.version, join(opts.outDir, archiveName(opts.version))) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  files[cliSbomName(opts.version)] = { kind: 'sbom-cli', bytes: Buffer.from(await cliSbom(opts)) };
  files[imageSbomName(opts.version)] = { kind: 'sbom-image', bytes: Buffer.from(await imageSbom(opts)) };
  files[INSTALL_SCRIPT] = { kind: 'install-script', bytes: readFileSync(join(opts.workspaceRoot, 'tools', 'release', 'src', INSTALL_SCRIPT)) };
  for (const [name, f] of Object.entries(files)) if (f.kind !== 'archive') writeFileSync(join(opts.outDir, name), f.bytes, { mode: name === INSTALL_SCRIPT ? 0o755 : 0o644 });
  writeFileSync(join(opts.outDir, SUMS_FILE), sha256Sums(Object.fromEntries(Object.entries(files).map(([n, f]) => [n, f.bytes]))));
  const manifest: ReleaseManifest = {
    version: opts.version,
    platform: RELEASE_PLATFORM,
    image: { ref: opts.image, sbom: imageSbomName(opts.version) },
    unpackId,
    nodeRuntime: NODE_RUNTIME.version,
    files: Object.entries(files)
      .map(([name, f]) => ({ name, kind: f.kind, sha256: sha256Hex(f.bytes), size: f.bytes.length }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
  writeReleaseManifest(opts.outDir, manifest);
  return manifest;
}

export function readReleaseManifest(outDir: string): ReleaseManifest | undefined {
  const file = join(outDir, RELEASE_MANIFEST);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ReleaseManifest) : undefined;
}

export function writeReleaseManifest(outDir: string, manifest: ReleaseManifest): void {
  writeFileSync(join(outDir, RELEASE_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
}

/** Copy a release dir's files (not release.json) elsewhere, e.g. into a test's install dir. */
export function copyRelease(outDir: string, to: string, manifest: ReleaseManifest): void {
  mkdirSync(to, { recursive: true });
  for (const f of [...manifest.files.map((x) => x.name), SUMS_FILE]) copyFileSync(join(outDir, f), join(to, f));
}
