// Container images of the test cluster, built by the project's own image tool (@tel/image) from
// static binaries and pushed to the cluster's local registry. Nothing comes from the internet.
import { buildAndPush, type BuildSpec } from '@tel/image';
import { COREDNS_VERSION, type Layout } from './layout.js';
import { COREDNS_IMAGE } from './manifests.js';
import { PAUSE_IMAGE } from './configs.js';
import { ownSourcesHash, type Binaries } from './build.js';

/** Tagged by the hash of our Go sources: a changed image is a new tag, never a stale one the node cached under the old tag. */
export const DEMO_SERVER_IMAGE = (l: Pick<Layout, 'registry'>) => `${l.registry}/demo-server:${ownSourcesHash()}`;
/** The stand-in for an Istio-style mesh sidecar (images/mesh-proxy): `init` as istio-init, `proxy` as istio-proxy. */
export const MESH_PROXY_IMAGE = (l: Pick<Layout, 'registry'>) => `${l.registry}/mesh-proxy:${ownSourcesHash()}`;

const staticBinary = (path: string, sourcePath: string) => ({ path, sourcePath, mode: 0o755, type: 'file' as const });
const label = { 'org.opencontainers.image.source': 'tools/testcluster' };

export function imageSpecs(l: Layout, b: Binaries): Array<{ ref: string; spec: BuildSpec }> {
  return [
    { ref: PAUSE_IMAGE(l), spec: { layers: [[staticBinary('/pause', b.own.pause)]], entrypoint: ['/pause'], labels: label } },
    {
      ref: COREDNS_IMAGE(l),
      spec: {
        layers: [[staticBinary('/coredns', b.upstream.coredns)]],
        entrypoint: ['/coredns'],
        exposedPorts: ['53/udp', '53'],
        labels: { ...label, 'org.opencontainers.image.version': COREDNS_VERSION },
      },
    },
    {
      ref: DEMO_SERVER_IMAGE(l),
      spec: {
        layers: [[staticBinary('/demo-server', b.own['demo-server'])]],
        entrypoint: ['/demo-server'],
        cmd: ['serve'],
        env: ['PORT=8080'],
        exposedPorts: ['8080', '8080/udp'],
        labels: label,
      },
    },
    {
      ref: MESH_PROXY_IMAGE(l),
      spec: {
        layers: [[staticBinary('/mesh-proxy', b.own['mesh-proxy'])]],
        entrypoint: ['/mesh-proxy'],
        cmd: ['proxy'],
        exposedPorts: ['15001', '15006', '15020'],
        labels: label,
      },
    },
  ];
}

/** Pushes the images the registry lacks (a cluster that is up, with sources changed since); returns their refs. */
export async function pushMissingImages(l: Layout, b: Binaries): Promise<string[]> {
  const pushed: string[] = [];
  for (const { ref, spec } of imageSpecs(l, b)) {
    const slash = ref.indexOf('/');
    const colon = ref.lastIndexOf(':');
    const res = await fetch(`http://${ref.slice(0, slash)}/v2/${ref.slice(slash + 1, colon)}/manifests/${ref.slice(colon + 1)}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
    });
    if (res.status === 200) continue;
    await buildAndPush(spec, ref);
    pushed.push(ref);
  }
  return pushed;
}

/** Builds and pushes every image; the registry must answer at `l.registry` from this namespace. */
export async function pushImages(l: Layout, b: Binaries): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  for (const { ref, spec } of imageSpecs(l, b)) {
    const res = await buildAndPush(spec, ref);
    digests[ref] = res.digest;
  }
  return digests;
}
