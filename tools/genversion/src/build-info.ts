// dist/version/version.json: the build's version and registry, written once per Nx invocation by
// the `genversion` task and read by every build, image and verify task.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TelError } from '@tel/errors';
import { IMAGE_NAME, validateRegistry } from '@tel/version';
import { computeVersion, type ComputedVersion } from './version.js';

/**
 * The one default registry, used when TELEPRESENCE_REGISTRY is unset at build time: a registry
 * on the build machine's loopback (what the README's main job starts). Nothing else in code or
 * artifacts names a registry host; the CLI gets its default from the build.
 */
export const DEFAULT_BUILD_REGISTRY = 'localhost:5000';

export interface BuildInfo extends ComputedVersion {
  /** Registry the CLI installs cluster images from unless config.yml or the env overrides it. */
  registry: string;
  /** `<registry>/tel2:<version>`: the traffic-manager/agent image of this build. */
  image: string;
  /** Repository URL for the image's org.opencontainers.image.source annotation, when known. */
  sourceUrl?: string;
}

export function buildInfoPath(workspaceRoot: string): string {
  return join(workspaceRoot, 'dist', 'version', 'version.json');
}

export async function computeBuildInfo(workspaceRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<BuildInfo> {
  const v = await computeVersion(workspaceRoot, env);
  const registry = validateRegistry(env.TELEPRESENCE_REGISTRY || DEFAULT_BUILD_REGISTRY, 'TELEPRESENCE_REGISTRY');
  const info: BuildInfo = { ...v, registry, image: `${registry}/${IMAGE_NAME}:${v.version}` };
  if (env.TELEPRESENCE_SOURCE_URL) info.sourceUrl = env.TELEPRESENCE_SOURCE_URL;
  return info;
}

export function writeBuildInfo(workspaceRoot: string, info: BuildInfo): string {
  const file = buildInfoPath(workspaceRoot);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(info, null, 2) + '\n');
  return file;
}

/** What build tasks call: the version genversion computed for this invocation. */
export function readBuildInfo(workspaceRoot: string): BuildInfo {
  const file = buildInfoPath(workspaceRoot);
  if (!existsSync(file)) {
    throw new TelError('user', `${file} is missing`, "build through Nx ('npx nx run-many -t build'), which runs genversion first");
  }
  return JSON.parse(readFileSync(file, 'utf8')) as BuildInfo;
}
