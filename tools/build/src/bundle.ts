// Bundles one app into a single ESM file with esbuild, baking in this build's version and
// registry (from dist/version/version.json), so the artifact can only ever report that version.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { BuildInfo } from '@tel/genversion';

/** The apps that become bundles, and their entry points relative to the workspace root. */
export const APPS = {
  cli: 'apps/cli/src/main.ts',
  'root-daemon': 'apps/root-daemon/src/main.ts',
  'traffic-manager': 'apps/traffic-manager/src/main.ts',
} as const;
export type AppName = keyof typeof APPS;

export function bundlePath(outRoot: string, app: AppName): string {
  return join(outRoot, app, 'main.js');
}

/**
 * Bundle `app` into `<outRoot>/<app>/main.js`. Deterministic: no timestamps, no absolute paths
 * (so the image layer made from it is reproducible); native addons stay external.
 */
export async function bundleApp(workspaceRoot: string, app: AppName, info: Pick<BuildInfo, 'version' | 'registry'>, outRoot: string): Promise<string> {
  const outfile = bundlePath(outRoot, app);
  mkdirSync(join(outRoot, app), { recursive: true });
  await build({
    absWorkingDir: workspaceRoot,
    entryPoints: [APPS[app]],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'error',
    // koffi loads a platform .node addon at run time; it is installed beside the bundle.
    external: ['koffi'],
    // ESM bundles of CommonJS deps need require/__dirname.
    banner: {
      js: [
        '#!/usr/bin/env node',
        "import { createRequire as __telCreateRequire } from 'node:module';",
        'const require = __telCreateRequire(import.meta.url);',
      ].join('\n'),
    },
    define: {
      __TELEPRESENCE_VERSION__: JSON.stringify(info.version),
      __TELEPRESENCE_REGISTRY__: JSON.stringify(info.registry),
    },
  });
  writeFileSync(join(outRoot, app, 'build-info.json'), JSON.stringify({ app, version: info.version, registry: info.registry }) + '\n');
  return outfile;
}
