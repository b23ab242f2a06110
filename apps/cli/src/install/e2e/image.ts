// e2e helper: builds this work tree's traffic-manager bundle with a given version and pushes
// `<cluster registry>/tel2:<version>` (over the Node base image) so the test cluster can pull it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bundleApp, pushBaseImage, pushTrafficManagerImage } from '@tel/build';
import type { BuildInfo } from '@tel/genversion';

export const WORKSPACE_ROOT = resolve(import.meta.dirname, '../../../../..');

export async function pushManagerImage(registry: string, version: string): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'tel-install-e2e-'));
  try {
    const info: BuildInfo = { version, source: 'env', dirty: false, registry, image: `${registry}/tel2:${version}` };
    await bundleApp(WORKSPACE_ROOT, 'traffic-manager', info, out);
    await pushBaseImage(info);
    await pushTrafficManagerImage(info, out);
    return info.image;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
