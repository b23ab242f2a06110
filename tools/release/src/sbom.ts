// CycloneDX 1.5 SBOMs (JSON) of what a release actually ships: the npm packages esbuild put into
// a bundle (its metafile, the same entry and externals as the build), the native packages vendored
// beside it, the Node runtime, and for the image the Debian packages its host files come from.
//
// Written here rather than with @cyclonedx/cyclonedx-library: we emit one fixed shape (a flat
// component list under one application), must keep it byte-reproducible (no timestamp, a serial
// number derived from the content), and the library would bring its own dependency tree into the
// build for what is a few dozen lines of JSON.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_EXTERNALS } from '@tel/build';

export interface Component {
  type: 'library' | 'application' | 'platform' | 'container';
  name: string;
  version: string;
  purl: string;
  /** The package's `license` field as given (SPDX id, expression, or free text). */
  license?: string;
  description?: string;
}

/** pkg:npm purl: the scope's @ is percent-encoded. */
export function npmPurl(name: string, version: string): string {
  return `pkg:npm/${name.replace(/^@/, '%40')}@${version}`;
}

function npmComponent(pkgDir: string): Component | undefined {
  const file = join(pkgDir, 'package.json');
  if (!existsSync(file)) return undefined;
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string; license?: string | { type?: string } };
  if (!pkg.name || !pkg.version) return undefined;
  const license = typeof pkg.license === 'string' ? pkg.license : pkg.license?.type;
  return { type: 'library', name: pkg.name, version: pkg.version, purl: npmPurl(pkg.name, pkg.version), ...(license ? { license } : {}) };
}

/** The package dir of a bundled input path: up to the last `node_modules/<name>` or `node_modules/@scope/name`. */
export function packageDirOf(input: string): string | undefined {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m?.[1];
}

/**
 * npm packages whose code ends up in the bundle of `entry`: esbuild's metafile lists, per output,
 * the inputs that contributed bytes. Our own workspace packages (@tel/*, linked from libs/) are
 * the application itself, not third-party components.
 */
export async function bundledPackages(workspaceRoot: string, entry: string): Promise<Component[]> {
  const result = await build({
    absWorkingDir: workspaceRoot,
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    outdir: 'out',
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'error',
    external: BUNDLE_EXTERNALS,
    define: { __TELEPRESENCE_VERSION__: '"sbom"', __TELEPRESENCE_REGISTRY__: '"sbom"' },
  });
  const dirs = new Set<string>();
  for (const out of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
      const dir = bytesInOutput > 0 ? packageDirOf(input) : undefined;
      if (dir) dirs.add(dir);
    }
  }
  return [...dirs].map((d) => npmComponent(join(workspaceRoot, d))).filter((c): c is Component => !!c && !c.name.startsWith('@tel/'));
}

/** The packages vendored into `<bundle dir>/node_modules` (native addons the bundle loads at run time). */
export function vendoredPackages(bundleDir: string): Component[] {
  const nm = join(bundleDir, 'node_modules');
  if (!existsSync(nm)) return [];
  const dirs = readdirSync(nm).flatMap((n) => (n.startsWith('@') ? readdirSync(join(nm, n)).map((s) => join(nm, n, s)) : [join(nm, n)]));
  return dirs.map(npmComponent).filter((c): c is Component => !!c);
}

export function nodeRuntimeComponent(version: string): Component {
  const v = version.replace(/^v/, '');
  return { type: 'platform', name: 'node', version: v, purl: `pkg:generic/nodejs/node@${v}`, license: 'MIT' };
}

/**
 * The Debian packages that own these host files (`dpkg -S`, then their versions), for an image
 * built from host files. Files dpkg does not know (a hand-installed node) are left to the caller.
 */
export function debianPackagesOf(files: string[]): { components: Component[]; unowned: string[] } {
  const owners = new Set<string>();
  const unowned: string[] = [];
  for (const file of files) {
    let out = '';
    try {
      out = execFileSync('dpkg', ['-S', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      // usr-merge: dpkg may know /lib/x.so as /usr/lib/x.so or the other way round.
      const alt = file.startsWith('/usr/') ? file.slice(4) : `/usr${file}`;
      try {
        out = execFileSync('dpkg', ['-S', alt], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        unowned.push(file);
        continue;
      }
    }
    for (const pkg of out.split('\n')[0]!.split(':')[0]!.split(', ')) if (pkg) owners.add(pkg.trim());
  }
  const components = [...owners].map((owner): Component => {
    const [name, arch] = owner.split(':');
    const [version, a] = execFileSync('dpkg-query', ['-W', '-f=${Version}\t${Architecture}', owner], { encoding: 'utf8' }).split('\t');
    return { type: 'library', name: name!, version: version!, purl: `pkg:deb/debian/${name}@${encodeURIComponent(version!)}?arch=${arch ?? a}` };
  });
  return { components, unowned };
}

/** A license field as CycloneDX wants it: an SPDX id, an SPDX expression, or a name. */
function licenseOf(license: string): Record<string, unknown> {
  if (/^[A-Za-z0-9.+-]+$/.test(license)) return { license: { id: license } };
  if (/\b(OR|AND|WITH)\b/.test(license)) return { expression: license.replace(/^\((.*)\)$/, '$1') };
  return { license: { name: license } };
}

/** The SBOM document: components deduplicated by purl and sorted, so equal inputs give equal bytes. */
export function cycloneDx(subject: Component, components: Component[]): string {
  const unique = [...new Map(components.map((c) => [c.purl, c])).values()].sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0));
  const entry = (c: Component) => ({
    type: c.type,
    'bom-ref': c.purl,
    name: c.name,
    version: c.version,
    purl: c.purl,
    ...(c.description ? { description: c.description } : {}),
    ...(c.license ? { licenses: [licenseOf(c.license)] } : {}),
  });
  const body = {
    metadata: {
      tools: { components: [{ type: 'application', name: 'telepresence release tools' }] },
      component: entry(subject),
    },
    components: unique.map(entry),
    dependencies: [{ ref: subject.purl, dependsOn: unique.map((c) => c.purl) }],
  };
  // A serial number from the content (an RFC 4122 version-5-shaped UUID): the same release gives the same one.
  const h = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  const serial = `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', serialNumber: serial, version: 1, ...body }, null, 2) + '\n';
}
