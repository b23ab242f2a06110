// The cluster image of a build: `<registry>/tel2:<version>`, the traffic-manager bundle layered
// over a Node runtime base pulled from the same registry. Both specs live here, nowhere else.
import { dirname, join } from 'node:path';
import { AGENT_BUNDLE_PATH } from '@tel/agent-config';
import { readFileSync } from 'node:fs';
import { buildAndPush, hostBinaryEntries, nodeBaseSpec, type BuildSpec, type ProgressEvent, type PushResult } from '@tel/image';
import type { BuildInfo } from '@tel/genversion';
import { bundlePath } from './bundle.js';

/**
 * Base image: `TELEPRESENCE_BASE_IMAGE` when set, else `<registry>/tel2-base:node-v<host node>`.
 * The tag names the Node version because the bundle targets that runtime.
 */
export function baseImageRef(info: Pick<BuildInfo, 'registry'>, env: NodeJS.ProcessEnv = process.env): string {
  return env.TELEPRESENCE_BASE_IMAGE || `${info.registry}/tel2-base:node-${process.version}`;
}

/** Path of the traffic-manager bundle inside the image. */
export const IMAGE_BUNDLE_PATH = '/usr/local/lib/telepresence/traffic-manager.js';
/**
 * The agent-init role redirects numeric target ports with it inside the injected pod's network
 * namespace (apps/traffic-manager/src/agent-init); from the build host, with its libraries.
 */
export const IMAGE_NFT_PATH = '/usr/sbin/nft';

export function trafficManagerImageSpec(info: BuildInfo, bundleFile: string, env: NodeJS.ProcessEnv = process.env): BuildSpec {
  const created = info.commitTime ?? '1970-01-01T00:00:00Z';
  const annotations: Record<string, string> = {
    'org.opencontainers.image.version': info.version,
    'org.opencontainers.image.created': created,
    'org.opencontainers.image.title': 'telepresence traffic-manager and traffic-agent',
  };
  if (info.revision) annotations['org.opencontainers.image.revision'] = info.revision;
  if (info.sourceUrl) annotations['org.opencontainers.image.source'] = info.sourceUrl;
  return {
    base: baseImageRef(info, env),
    // nft below the bundle: it changes far less often, so its layer is reused between builds.
    layers: [
      hostBinaryEntries([IMAGE_NFT_PATH]),
      [
        { path: IMAGE_BUNDLE_PATH, content: readFileSync(bundleFile), mode: 0o755 },
        // The agent's own bundle, beside the manager's (bundle.ts EXTRA_BUNDLES); pods run it by AGENT_COMMAND.
        { path: AGENT_BUNDLE_PATH, content: readFileSync(join(dirname(bundleFile), 'agent.js')), mode: 0o755 },
      ],
    ],
    entrypoint: ['/usr/bin/node', IMAGE_BUNDLE_PATH],
    cmd: ['manager'],
    env: [`TELEPRESENCE_VERSION=${info.version}`],
    labels: { ...annotations },
    annotations,
    created,
  };
}

export async function pushTrafficManagerImage(
  info: BuildInfo,
  distApps: string,
  onProgress?: (ev: ProgressEvent) => void,
): Promise<PushResult> {
  const spec = trafficManagerImageSpec(info, bundlePath(distApps, 'traffic-manager'));
  return buildAndPush(spec, info.image, onProgress ? { onProgress } : {});
}

export async function pushBaseImage(info: BuildInfo, onProgress?: (ev: ProgressEvent) => void): Promise<PushResult> {
  const spec = nodeBaseSpec({ created: '1970-01-01T00:00:00Z' });
  return buildAndPush(spec, baseImageRef(info), onProgress ? { onProgress } : {});
}
