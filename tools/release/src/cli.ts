// `release <package | attach-sbom | verify>`: the Nx targets of the release toolkit.
//   package      cli:package, after build: dist/release (release.ts)
//   attach-sbom  traffic-manager:push-sbom, after push-image: the image SBOM as an OCI referrer
//   verify       part of cli:verify-version: the version inside the packaged executable and the
//                archive's name
//   verify-image part of traffic-manager:verify-version: the image SBOM attached to the image
import { join } from 'node:path';
import { EXIT_CODES, formatError, toErrorInfo } from '@tel/errors';
import { ImageError } from '@tel/image';
import { readBuildInfo, workspaceRoot } from '@tel/genversion';
import { attachSbom } from './referrer.js';
import { imageSbom, imageSbomName, packageRelease, readReleaseManifest, writeReleaseManifest } from './release.js';
import { verifyImageSbom, verifyRelease, type Finding } from './verify.js';
import { readFileSync, existsSync } from 'node:fs';

async function main(argv: string[]): Promise<number> {
  const root = workspaceRoot();
  const info = readBuildInfo(root);
  const outDir = join(root, 'dist', 'release');
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  // Without a package run first, the same SBOM is made here (it depends only on the build).
  const theImageSbom = async (): Promise<Buffer> => {
    const file = join(outDir, imageSbomName(info.version));
    return existsSync(file) ? readFileSync(file) : Buffer.from(await imageSbom({ workspaceRoot: root, version: info.version, image: info.image, registry: info.registry }));
  };
  switch (argv[0]) {
    case 'package': {
      const m = await packageRelease({ workspaceRoot: root, distApps: join(root, 'dist', 'apps'), version: info.version, image: info.image, registry: info.registry, outDir });
      for (const f of m.files) process.stdout.write(`${f.name}  ${(f.size / 1e6).toFixed(1)} MB  sha256:${f.sha256}\n`);
      process.stdout.write(`package: ${outDir} (${info.version}, ${seconds()} s)\n`);
      return 0;
    }
    case 'attach-sbom': {
      const name = imageSbomName(info.version);
      const sbom = await theImageSbom();
      const r = await attachSbom(info.image, sbom, name);
      const manifest = readReleaseManifest(outDir);
      if (manifest?.version === info.version) {
        manifest.image.referrer = { subject: r.subject, digest: r.referrer, listedBy: r.listedBy, ...(r.tag ? { tag: r.tag } : {}) };
        writeReleaseManifest(outDir, manifest);
      }
      const where = r.listedBy === 'referrers-api' ? "the registry's referrers API" : `the fallback tag ${r.tag}`;
      process.stdout.write(`attached ${name} to ${info.image}@${r.subject} as ${r.referrer}, listed by ${where} (${seconds()} s)\n`);
      return 0;
    }
    case 'verify':
    case 'verify-image': {
      const findings: Finding[] = argv[0] === 'verify' ? await verifyRelease(outDir, info) : [await verifyImageSbom(await theImageSbom(), imageSbomName(info.version), info)];
      for (const f of findings) process.stdout.write(`${f.ok ? 'ok  ' : 'FAIL'} ${f.artifact}: ${f.version ?? 'no version found'}\n`);
      const bad = findings.filter((f) => !f.ok);
      if (bad.length) {
        process.stderr.write(`verify-version: ${bad.map((b) => b.artifact).join(', ')} carries ${bad[0]!.version ?? 'no version'}, expected ${info.version}; rebuild with 'npx nx run-many -t build package push-image'\n`);
        return 1;
      }
      return 0;
    }
    default:
      process.stderr.write(`release: unknown command ${JSON.stringify(argv[0])}; use package, attach-sbom, verify or verify-image\n`);
      return EXIT_CODES.user;
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ImageError) {
    process.stderr.write(`release: ${err.message}${err.hint ? `; ${err.hint}` : ''}\n`);
    return EXIT_CODES.cluster;
  }
  const info = toErrorInfo(err);
  process.stderr.write(`release: ${formatError(info)}\n`);
  return EXIT_CODES[info.category];
});
