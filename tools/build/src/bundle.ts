// Bundles one app into a single ESM file with esbuild, baking in this build's version and
// registry (from dist/version/version.json), so the artifact can only ever report that version.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { join } from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import type { BuildInfo } from '@tel/genversion';

/** The apps that become bundles, and their entry points relative to the workspace root. */
export const APPS = {
  cli: 'apps/cli/src/main.ts',
  'root-daemon': 'apps/root-daemon/src/main.ts',
  'traffic-manager': 'apps/traffic-manager/src/main.ts',
} as const;
export type AppName = keyof typeof APPS;

/**
 * More entry points of an app, each bundled beside its main.js into a file of its own (without the
 * others' code): the traffic agent runs in every intercepted pod and must not carry the manager.
 */
export const EXTRA_BUNDLES: Partial<Record<AppName, Record<string, string>>> = {
  'traffic-manager': { 'agent.js': 'apps/traffic-manager/src/agent-main.ts' },
};

/**
 * Packages that load a platform .node addon at run time, so they cannot be inlined, each with the
 * packages that carry its prebuilt addon for this platform.
 */
const NATIVE_PACKAGES: Record<string, string[]> = {
  koffi: [`@koromix/koffi-${process.platform}-${process.arch}`],
};

/**
 * What stays out of every bundle: native packages (copied beside it) and x11, dbus-next's X11
 * session-bus lookup that the root daemon never uses (it talks to the system bus).
 */
export const BUNDLE_EXTERNALS = [...Object.keys(NATIVE_PACKAGES), 'x11'];

/**
 * Packages replaced by a module of a few lines because no code path of ours on Node reaches them.
 * whatwg-url (and tr46's Unicode table under it): node-fetch, the Kubernetes client's HTTP layer,
 * imports it at load but takes Node's own URL whenever it exists (`Url.URL || whatwgUrl.URL`), which
 * on Node it always does; loaded, the table cost each process that carries the Kubernetes client
 * (the user daemon, the manager) ~1.7 MiB of heap and 300 kB of bundle.
 */
export const REPLACED_PACKAGES: Record<string, string> = {
  'whatwg-url': 'export const URL = globalThis.URL;\nexport default { URL };\n',
};

const replacedPackages: Plugin = {
  name: 'replaced-packages',
  setup(b) {
    const names = new RegExp(`^(${Object.keys(REPLACED_PACKAGES).join('|')})$`);
    b.onResolve({ filter: names }, (args) => ({ path: args.path, namespace: 'replaced' }));
    b.onLoad({ filter: /.*/, namespace: 'replaced' }, (args) => ({ contents: REPLACED_PACKAGES[args.path], loader: 'js' }));
  },
};

/**
 * The CLI and user daemon use @kubernetes/client-node's KubeConfig and talk to the API through
 * their own thin client (apps/cli/src/kube/api.ts). config.js still imports two names from
 * `./gen/index.js`, which re-exports every generated API and ~600 model classes (1.8 MB, ~17 MiB
 * of the user daemon's memory once loaded). The package does not declare itself free of side
 * effects, so esbuild keeps every module it reaches; marking its files `sideEffects: false` lets
 * esbuild drop the modules nothing uses. Only for the CLI: the manager uses the generated API.
 */
export const SIDE_EFFECT_FREE_PACKAGE = '@kubernetes/client-node';
const sideEffectFree: Plugin = {
  name: 'side-effect-free',
  setup(b) {
    const inPackage = `/node_modules/${SIDE_EFFECT_FREE_PACKAGE}/`;
    b.onResolve({ filter: /^(\.|@kubernetes\/client-node)/ }, async (args) => {
      if (args.pluginData === sideEffectFree) return undefined;
      if (!args.path.startsWith(SIDE_EFFECT_FREE_PACKAGE) && !args.importer.replaceAll('\\', '/').includes(inPackage)) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: sideEffectFree });
      if (r.errors.length > 0) return { errors: r.errors };
      return { ...r, sideEffects: false };
    });
  },
};

/**
 * Apps whose code loaded with `import()` goes into chunks beside main.js (`chunks/`), loaded only
 * when used: the CLI starts for every command, and most (connect, status, quit...) only talk to the
 * daemons; the Kubernetes client (two thirds of its bundle, ~80 ms of every start) is the user
 * daemon's and helm's. The image's bundles stay single files (the image carries main.js alone).
 */
const SPLIT_APPS: ReadonlySet<AppName> = new Set(['cli']);
const CHUNKS_DIR = 'chunks';

/**
 * Copy each native package the bundle imports into `<bundle dir>/node_modules/`, so the bundle
 * runs wherever it is copied (an install dir, a temp dir in tests), not only inside the workspace.
 */
function vendorNativePackages(workspaceRoot: string, outfile: string): void {
  const chunks = join(dirname(outfile), CHUNKS_DIR);
  const text = [outfile, ...(existsSync(chunks) ? readdirSync(chunks).map((f) => join(chunks, f)) : [])].map((f) => readFileSync(f, 'utf8')).join('\n');
  rmSync(join(dirname(outfile), 'node_modules'), { recursive: true, force: true });
  const needed = Object.entries(NATIVE_PACKAGES).filter(([pkg]) => text.includes(`"${pkg}"`));
  for (const pkg of needed.flat(2)) {
    // npm workspaces hoist every dependency to the root node_modules.
    const source = realpathSync(join(workspaceRoot, 'node_modules', pkg));
    const target = join(dirname(outfile), 'node_modules', pkg);
    cpSync(source, target, { recursive: true, dereference: true, filter: (f) => !/^[/\\](doc|vendor)([/\\]|$)/.test(f.slice(source.length)) });
  }
}

export function bundlePath(outRoot: string, app: AppName): string {
  return join(outRoot, app, 'main.js');
}

export interface BundleOptions {
  /** Gets esbuild's account of each entry's outputs and the inputs in each (tests inspect it). */
  onMetafile?: (entry: string, metafile: Metafile) => void;
}

/**
 * Bundle `app` into `<outRoot>/<app>/main.js`. Deterministic: no timestamps, no absolute paths
 * (so the image layer made from it is reproducible); native addons stay external.
 */
export async function bundleApp(workspaceRoot: string, app: AppName, info: Pick<BuildInfo, 'version' | 'registry'>, outRoot: string, opts: BundleOptions = {}): Promise<string> {
  const outfile = bundlePath(outRoot, app);
  mkdirSync(join(outRoot, app), { recursive: true });
  const entries: [string, string][] = [[APPS[app], outfile], ...Object.entries(EXTRA_BUNDLES[app] ?? {}).map(([file, entry]): [string, string] => [entry, join(outRoot, app, file)])];
  rmSync(join(outRoot, app, CHUNKS_DIR), { recursive: true, force: true });
  for (const [entry, out] of entries) {
    const meta = await bundleOne(workspaceRoot, entry, out, info, SPLIT_APPS.has(app), app === 'cli' ? [sideEffectFree] : []);
    opts.onMetafile?.(entry, meta);
  }
  vendorNativePackages(workspaceRoot, outfile);
  writeFileSync(join(outRoot, app, 'build-info.json'), JSON.stringify({ app, version: info.version, registry: info.registry }) + '\n');
  return outfile;
}

async function bundleOne(workspaceRoot: string, entry: string, outfile: string, info: Pick<BuildInfo, 'version' | 'registry'>, split: boolean, plugins: Plugin[]): Promise<Metafile> {
  const result = await build({
    absWorkingDir: workspaceRoot,
    entryPoints: [entry],
    // Split: main.js (named after the entry, main.ts) and chunks/*.js for what import() loads.
    ...(split ? { outdir: dirname(outfile), entryNames: '[name]', chunkNames: `${CHUNKS_DIR}/[name]-[hash]`, splitting: true } : { outfile }),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: false,
    legalComments: 'none',
    // Without comments and whitespace the source is half the size and pure ASCII: one comment with
    // a non-ASCII character (dependencies have several) made V8 keep all of it as two-byte
    // characters (14 MB of the user daemon's heap) and took Node's decoder off its fast path (80 ms
    // of every CLI start). Names stay (no identifier minification): stack traces remain readable.
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'error',
    metafile: true,
    // Packages with native addons stay external and are copied beside the bundle (below).
    external: BUNDLE_EXTERNALS,
    plugins: [replacedPackages, ...plugins],
    // ESM bundles of CommonJS deps need require/__dirname. The `--` ends node's own options: Node 20
    // reads `--env-file F` anywhere in argv, even after the script, and exits 9 when F does not
    // exist yet, which is exactly `telepresence intercept --env-file F`.
    banner: {
      js: [
        '#!/usr/bin/env -S node --',
        "import { createRequire as __telCreateRequire } from 'node:module';",
        'const require = __telCreateRequire(import.meta.url);',
      ].join('\n'),
    },
    define: {
      __TELEPRESENCE_VERSION__: JSON.stringify(info.version),
      __TELEPRESENCE_REGISTRY__: JSON.stringify(info.registry),
    },
  });
  return result.metafile;
}
