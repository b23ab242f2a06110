// Read side of the registry API for callers and tests: inspect an image, pull one blob.
import { ImageError } from './errors.js';
import type { Platform } from './oci/types.js';
import type { RegistryAuth } from './registry/auth.js';
import { RegistryClient } from './registry/client.js';
import { formatImageRef, parseImageRef } from './ref.js';
import { resolveImage } from './resolve.js';

export interface ReadOptions {
  auth?: RegistryAuth;
  dockerConfig?: string;
  signal?: AbortSignal;
  platform?: Platform;
}

export interface InspectResult {
  /** Digest of the image manifest (the chosen platform's, when the ref names an index). */
  digest: string;
  indexDigest?: string;
  mediaType: string;
  manifest: any;
  config: any;
}

export async function inspectImage(ref: string, opts: ReadOptions = {}): Promise<InspectResult> {
  const r = parseImageRef(ref);
  const client = new RegistryClient(r.registry, opts);
  const image = await resolveImage(client, r, opts.platform);
  if (!image) {
    throw new ImageError(`image ${formatImageRef(r)} not found`, 'check the name and tag, or push it first', { code: 'NOT_FOUND' });
  }
  const out: InspectResult = { digest: image.digest, mediaType: image.mediaType, manifest: image.manifest, config: image.config };
  if (image.indexDigest) out.indexDigest = image.indexDigest;
  return out;
}

/** Downloads one blob (layer or config) of the image's repository, verified against its digest. */
export async function pullBlob(ref: string, digest: string, opts: ReadOptions = {}): Promise<Buffer> {
  const r = parseImageRef(ref);
  return new RegistryClient(r.registry, opts).getBlob(r.repository, digest);
}
