// e2e helper: the tel2 image of this tree with the injector running next to the manager role
// (apps/traffic-manager/src/manager/inject/e2e/manager-entry.ts), until run.ts starts it itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_EXTERNALS, bundleApp, bundlePath, pushBaseImage, pushTrafficManagerImage } from '@tel/build';
import type { BuildInfo } from '@tel/genversion';
import { WORKSPACE_ROOT } from './image.js';

const ENTRY = 'apps/traffic-manager/src/manager/inject/e2e/manager-entry.ts';

export async function pushInjectorImage(registry: string, version: string): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'tel-inject-e2e-'));
  try {
    const info: BuildInfo = { version, source: 'env', dirty: false, registry, image: `${registry}/tel2:${version}` };
    await bundleApp(WORKSPACE_ROOT, 'traffic-manager', info, out);
    // The same bundle options as bundleApp, from the e2e entry, over its main.js.
    await build({
      absWorkingDir: WORKSPACE_ROOT,
      entryPoints: [ENTRY],
      outfile: bundlePath(out, 'traffic-manager'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      logLevel: 'error',
      external: BUNDLE_EXTERNALS,
      banner: { js: ["import { createRequire as __telCreateRequire } from 'node:module';", 'const require = __telCreateRequire(import.meta.url);'].join('\n') },
      define: { __TELEPRESENCE_VERSION__: JSON.stringify(version), __TELEPRESENCE_REGISTRY__: JSON.stringify(registry) },
    });
    await pushBaseImage(info);
    await pushTrafficManagerImage(info, out);
    return info.image;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
