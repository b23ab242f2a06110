// Reads an image from a registry: manifest (choosing one platform from an index) and config.
// Shared by base-image resolution during a build and by inspectImage.
import { ImageError } from './errors.js';
import { hostPlatform } from './oci/config.js';
import { type ImageConfig, type ImageIndex, type ImageManifest, MediaType, type Platform } from './oci/types.js';
import { type FetchedManifest, RegistryClient } from './registry/client.js';
import { formatImageRef, type ImageRef, manifestReference } from './ref.js';

export interface ResolvedImage {
  ref: ImageRef;
  /** Digest of the image manifest (of the chosen platform's manifest when the ref names an index). */
  digest: string;
  /** Digest of the index the ref pointed at, when it pointed at one. */
  indexDigest?: string;
  mediaType: string;
  manifest: ImageManifest;
  config: ImageConfig;
}

const IMAGE_MANIFEST_TYPES = new Set<string>([MediaType.ociManifest, MediaType.dockerManifest]);
const INDEX_TYPES = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList]);

export function pickPlatform(index: ImageIndex, want: Platform): string | null {
  const match = index.manifests.find(
    (m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture && (!want.variant || m.platform?.variant === want.variant),
  );
  return match?.digest ?? null;
}

function kind(m: FetchedManifest): 'image' | 'index' | 'other' {
  const mt = m.mediaType || (m.json.manifests ? MediaType.ociIndex : m.json.config ? MediaType.ociManifest : '');
  if (IMAGE_MANIFEST_TYPES.has(mt)) return 'image';
  if (INDEX_TYPES.has(mt)) return 'index';
  return 'other';
}

/** Returns null if the ref does not exist; throws ImageError for anything else that goes wrong. */
export async function resolveImage(client: RegistryClient, ref: ImageRef, platform: Platform = hostPlatform()): Promise<ResolvedImage | null> {
  const display = formatImageRef(ref);
  let top = await client.getManifest(ref.repository, manifestReference(ref));
  if (!top) return null;
  let indexDigest: string | undefined;
  if (kind(top) === 'index') {
    indexDigest = top.digest;
    const child = pickPlatform(top.json as ImageIndex, platform);
    if (!child) {
      const have = (top.json as ImageIndex).manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(', ');
      throw new ImageError(`image ${display} has no ${platform.os}/${platform.architecture} variant (has: ${have})`, `use an image built for ${platform.os}/${platform.architecture}`, {
        code: 'UNSUPPORTED',
      });
    }
    top = await client.getManifest(ref.repository, child);
    if (!top) throw new ImageError(`image ${display} lists platform manifest ${child} that the registry does not have`, 'push the image again', { code: 'NOT_FOUND', category: 'cluster' });
  }
  if (kind(top) !== 'image' || top.json.schemaVersion !== 2) {
    throw new ImageError(`image ${display} has unsupported manifest type '${top.mediaType || `schema ${top.json.schemaVersion}`}'`, 're-push it as an OCI or Docker schema 2 image', {
      code: 'UNSUPPORTED',
    });
  }
  const manifest = top.json as ImageManifest;
  const config = JSON.parse((await client.getBlob(ref.repository, manifest.config.digest)).toString('utf8')) as ImageConfig;
  const out: ResolvedImage = { ref, digest: top.digest, mediaType: top.mediaType, manifest, config };
  if (indexDigest) out.indexDigest = indexDigest;
  return out;
}
