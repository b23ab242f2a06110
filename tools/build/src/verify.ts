// Reads the version back out of each artifact itself (running the bundle, inspecting the pushed
// image) for the verify-version target (verify-cli.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { inspectImage, pullBlob } from '@tel/image';
import type { BuildInfo } from '@tel/genversion';

export interface Finding {
  artifact: string;
  version: string | null;
  ok: boolean;
}

export function verifyBundle(file: string, info: BuildInfo, artifact: string): Finding {
  let version: string | null = null;
  try {
    version = (JSON.parse(execFileSync(process.execPath, [file, '--build-info'], { encoding: 'utf8' })) as { version: string }).version;
  } catch {
    version = null;
  }
  return { artifact, version, ok: version === info.version };
}

/** The image's annotation, label and env, plus the bundle inside its top layer, must all agree. */
export async function verifyImage(info: BuildInfo, bundleInImage: string): Promise<Finding[]> {
  const ref = info.image;
  const img = await inspectImage(ref);
  const cfg = img.config?.config ?? {};
  const envVersion = ((cfg.Env ?? []) as string[]).find((e) => e.startsWith('TELEPRESENCE_VERSION='))?.split('=')[1] ?? null;
  const findings: Finding[] = [
    { artifact: `${ref} manifest annotation org.opencontainers.image.version`, version: img.manifest.annotations?.['org.opencontainers.image.version'] ?? null, ok: false },
    { artifact: `${ref} config label org.opencontainers.image.version`, version: cfg.Labels?.['org.opencontainers.image.version'] ?? null, ok: false },
    { artifact: `${ref} config env TELEPRESENCE_VERSION`, version: envVersion, ok: false },
  ];
  const top = img.manifest.layers[img.manifest.layers.length - 1];
  const bundle = await fileFromLayer(gunzipSync(await pullBlob(ref, top.digest)), bundleInImage.replace(/^\//, ''));
  const dir = mkdtempSync(join(tmpdir(), 'tel-verify-'));
  try {
    const f = join(dir, 'bundle.mjs');
    if (bundle) writeFileSync(f, bundle);
    findings.push(bundle ? verifyBundle(f, info, `${ref} layer file ${bundleInImage}`) : { artifact: `${ref} layer file ${bundleInImage} (missing)`, version: null, ok: false });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return findings.map((f) => ({ ...f, ok: f.version === info.version }));
}

function fileFromLayer(tar: Buffer, path: string): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const ex = extract();
    let found: Buffer | undefined;
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => {
        if (header.name.replace(/^\.?\//, '') === path) chunks.push(c);
      });
      stream.on('end', () => {
        if (chunks.length) found = Buffer.concat(chunks);
        next();
      });
      stream.resume();
    });
    ex.on('finish', () => resolve(found));
    ex.on('error', reject);
    ex.end(tar);
  });
}
