// The build's identity: the version and default registry that esbuild bakes into every bundle.
// Every process reads them from here, so client, daemons and cluster image cannot disagree.

declare const __TELEPRESENCE_VERSION__: string | undefined;
declare const __TELEPRESENCE_REGISTRY__: string | undefined;

/** Version used when running from source (tsx/vitest) without a bundling step. */
export const DEV_VERSION = 'v0.0.0-dev';

/** The version this binary was built with (`TELEPRESENCE_VERSION` or `git describe`). */
export const buildVersion: string =
  typeof __TELEPRESENCE_VERSION__ === 'string' ? __TELEPRESENCE_VERSION__ : DEV_VERSION;

/** The registry the build was configured with (`TELEPRESENCE_REGISTRY` at build time). */
export const buildRegistry: string | undefined =
  typeof __TELEPRESENCE_REGISTRY__ === 'string' ? __TELEPRESENCE_REGISTRY__ : undefined;

/**
 * API versions per process boundary. Local ones (cli↔daemons) ship together; the cluster-facing
 * one must stay backward compatible and is what the manager compatibility policy compares.
 */
export const API_VERSIONS = {
  userDaemon: 1,
  rootDaemon: 1,
  trafficManager: 1,
} as const;

/** The image name every component of one build is pushed as. */
export const IMAGE_NAME = 'tel2';

export interface ComponentVersion {
  /** Human name used in every message: "Client", "User Daemon", "Root Daemon", "Traffic Manager". */
  name: string;
  version: string;
  apiVersion: number;
}

/** `v2.5.4 (api v3)` — the form `telepresence version` prints. */
export function formatComponent(c: ComponentVersion): string {
  return `${c.version} (api v${c.apiVersion})`;
}

/** The exact message users get (and grep for) when two parts of one installation disagree. */
export function mismatchMessage(client: string, other: ComponentVersion): string {
  return `version mismatch: Client ${client} != ${other.name} ${other.version}`;
}

export { validateRegistry } from './registry.js';

/**
 * `<bundle> --build-info` prints what was baked in and exits; verify-version runs every bundle
 * this way, so the check reads the artifact itself, not a file written beside it.
 */
export function handleBuildInfoFlag(app: string, argv = process.argv): void {
  if (argv[2] !== '--build-info') return;
  process.stdout.write(JSON.stringify({ app, version: buildVersion, registry: buildRegistry ?? null }) + '\n');
  process.exit(0);
}
export { parseVersion, versionFromTag } from './grammar.js';
