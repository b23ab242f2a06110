// buildAndPush: orchestrates one image push — resolve the base, build our layers, then push blobs,
// the manifest by digest, and only then the tag, so a failure never leaves a tag on a half-pushed image.
import { ImageError } from './errors.js';
import { type LayerEntry } from './layer/entries.js';
import { type LayerCache } from './layer/cache.js';
import { buildLayer, sha256, type BuiltLayer } from './layer/tar.js';
import { buildImageConfig, buildManifest, toOciLayerDescriptor } from './oci/config.js';
import { type Descriptor, MediaType, type Platform } from './oci/types.js';
import { type RegistryAuth } from './registry/auth.js';
import { RegistryClient, short } from './registry/client.js';
import { formatImageRef, parseImageRef } from './ref.js';
import { resolveImage, type ResolvedImage } from './resolve.js';

export interface BuildSpec {
  /** Image ref pulled from a registry; its layers are reused by cross-repo mount or copy. null/undefined = scratch. */
  base?: string | null;
  /** Each inner array becomes one deterministic layer, in order, above the base's layers. */
  layers: LayerEntry[][];
  entrypoint?: string[];
  cmd?: string[];
  /** "KEY=value" entries; a key already in the base is replaced. */
  env?: string[];
  workingDir?: string;
  user?: string;
  /** "8080" (tcp implied) or "53/udp". */
  exposedPorts?: string[];
  labels?: Record<string, string>;
  /** Manifest annotations, e.g. org.opencontainers.image.version / revision / source / created. */
  annotations?: Record<string, string>;
  /** RFC 3339 time for config.created and history (pass the commit time); default the Unix epoch, never "now". */
  created?: string;
}

export interface ProgressEvent {
  phase: 'base' | 'layer' | 'blob' | 'manifest' | 'tag' | 'done';
  detail?: string;
}

export interface PushOptions {
  onProgress?: (ev: ProgressEvent) => void;
  signal?: AbortSignal;
  /** Credentials for the target registry (and a base on it); default: the Docker config file. */
  auth?: RegistryAuth;
  dockerConfig?: string;
  /** gzip cache for big layers; null disables, undefined = ~/.cache/telepresence/image. */
  cache?: LayerCache | null;
  /** Platform to pick from a multi-platform base; default the host's (linux/amd64 here). */
  platform?: Platform;
  /** Blob operations in flight at once. */
  concurrency?: number;
}

export interface PushResult {
  /** The pushed reference, "registry/repo:tag". */
  ref: string;
  /** Manifest digest; "ref@digest" pins exactly this image. */
  digest: string;
  configDigest: string;
  uploadedBlobs: number;
  /** Blobs the target repository already had. */
  skippedBlobs: number;
  /** Blobs made present by a cross-repo mount (no bytes sent). */
  mountedBlobs: number;
  bytesUploaded: number;
  /** HTTP requests sent to registries during the push. */
  requests: number;
}

interface PendingBlob {
  digest: string;
  size: number;
  bytes: () => Promise<Buffer>;
  /** Repository on the target registry that already holds it (base on the same registry). */
  mountFrom?: string;
}

/** Runs fn over items, `limit` at a time; after the first failure no new item starts, and that failure is thrown. */
async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  });
  const results = await Promise.allSettled(workers);
  const firstFailure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (firstFailure) throw firstFailure.reason;
}

function checkAborted(signal: AbortSignal | undefined, target: string): void {
  if (signal?.aborted) throw new ImageError(`push of ${target} was cancelled`, 'run the command again when ready', { code: 'ABORTED' });
}

function describeBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

/**
 * Builds the image `spec` describes and pushes it as `target` ("host[:port]/repo:tag").
 * Throws ImageError (one line + hint) on any failure; the tag is written last, so after a failure it is
 * unchanged. Pushing the same spec again uploads nothing and returns the same digest.
 */
export async function buildAndPush(spec: BuildSpec, target: string, opts: PushOptions = {}): Promise<PushResult> {
  const progress = opts.onProgress ?? (() => {});
  const targetRef = parseImageRef(target);
  if (targetRef.digest) {
    throw new ImageError(`push target ${target} names a digest`, 'push to a tag, e.g. 127.0.0.1:5000/tel2:v2.5.4; the digest is computed', { code: 'INVALID_REF' });
  }
  if (!Array.isArray(spec.layers)) throw new ImageError('build spec has no layers array', 'add "layers": [[...entries]]', { code: 'INVALID_SPEC' });
  const tag = targetRef.tag ?? 'latest';
  const display = `${targetRef.repository}:${tag}`;
  const targetClient = new RegistryClient(targetRef.registry, { auth: opts.auth, dockerConfig: opts.dockerConfig, signal: opts.signal });
  const clients = [targetClient];

  // 1. Resolve the base (manifest + config) while our layers are built: both are independent.
  const basePromise: Promise<{ image: ResolvedImage; client: RegistryClient } | null> = (async () => {
    if (!spec.base) return null;
    const baseRef = parseImageRef(spec.base);
    // Explicit credentials are for the target; a base on another registry authenticates from the Docker config.
    const client = baseRef.registry === targetRef.registry ? targetClient : new RegistryClient(baseRef.registry, { dockerConfig: opts.dockerConfig, signal: opts.signal });
    if (client !== targetClient) clients.push(client);
    progress({ phase: 'base', detail: `resolving ${spec.base}` });
    const image = await resolveImage(client, baseRef, opts.platform);
    if (!image) {
      throw new ImageError(`base image ${spec.base} not found`, `build it with 'npx tel-image base-node --target ${spec.base}' (or push it there)`, {
        code: 'BASE_NOT_FOUND',
      });
    }
    return { image, client };
  })();
  // 2. Build layers concurrently: gzip runs on libuv's thread pool.
  const layersPromise = Promise.all(
    spec.layers.map(async (entries, i): Promise<BuiltLayer> => {
      progress({ phase: 'layer', detail: `building layer ${i + 1}/${spec.layers.length}` });
      const layer = await buildLayer(entries, { cache: opts.cache });
      progress({ phase: 'layer', detail: `layer ${i + 1}/${spec.layers.length}: ${layer.entryCount} entries, ${describeBytes(layer.size)}${layer.cached ? ' (cached gzip)' : ''}` });
      return layer;
    }),
  );
  const [base, layers] = await Promise.all([basePromise, layersPromise]);
  checkAborted(opts.signal, target);

  // 3. Config and manifest JSON. Key order is fixed by construction, so equal inputs give equal bytes.
  const config = buildImageConfig(
    base?.image.config ?? null,
    layers.map((l, i) => ({ diffId: l.diffId, descriptor: l, createdBy: `tel-image layer ${i + 1}` })),
    { ...spec },
  );
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc: Descriptor = { mediaType: MediaType.ociConfig, digest: sha256(configBytes), size: configBytes.length };
  const baseLayers = (base?.image.manifest.layers ?? []).map(toOciLayerDescriptor);
  const ourLayers: Descriptor[] = layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }));
  const manifest = buildManifest(configDesc, [...baseLayers, ...ourLayers], spec.annotations);
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const digest = sha256(manifestBytes);

  const result: PushResult = {
    ref: formatImageRef({ registry: targetRef.registry, repository: targetRef.repository, tag }),
    digest,
    configDigest: configDesc.digest,
    uploadedBlobs: 0,
    skippedBlobs: 0,
    mountedBlobs: 0,
    bytesUploaded: 0,
    requests: 0,
  };

  // 4. Blobs. If the registry already has this exact manifest it validated all of its blobs when it was
  //    stored, so an unchanged re-push skips every blob without a request per blob.
  const blobs: PendingBlob[] = [];
  const seen = new Set<string>();
  const addBlob = (b: PendingBlob): void => {
    if (seen.has(b.digest)) return;
    seen.add(b.digest);
    blobs.push(b);
  };
  for (const d of base?.image.manifest.layers ?? []) {
    const src = base!;
    const sameRegistry = src.client === targetClient;
    addBlob({
      digest: d.digest,
      size: d.size,
      bytes: () => src.client.getBlob(src.image.ref.repository, d.digest),
      ...(sameRegistry && src.image.ref.repository !== targetRef.repository ? { mountFrom: src.image.ref.repository } : {}),
    });
  }
  for (const l of layers) addBlob({ digest: l.digest, size: l.size, bytes: async () => l.blob });
  addBlob({ digest: configDesc.digest, size: configBytes.length, bytes: async () => configBytes });

  const alreadyThere = (await targetClient.headManifest(targetRef.repository, digest)) !== null;
  if (alreadyThere) {
    result.skippedBlobs = blobs.length;
    progress({ phase: 'blob', detail: `all ${blobs.length} blobs already in ${targetRef.repository}` });
  } else {
    await mapLimit(blobs, opts.concurrency ?? 4, async (b) => {
      if (await targetClient.hasBlob(targetRef.repository, b.digest)) {
        result.skippedBlobs++;
        progress({ phase: 'blob', detail: `${short(b.digest)} exists` });
        return;
      }
      let sent = 0;
      const outcome = await targetClient.putBlob(
        targetRef.repository,
        b.digest,
        async () => {
          const bytes = await b.bytes();
          sent = bytes.length;
          return bytes;
        },
        b.mountFrom,
      );
      if (outcome === 'mounted') {
        result.mountedBlobs++;
        progress({ phase: 'blob', detail: `${short(b.digest)} mounted from ${b.mountFrom}` });
      } else {
        result.uploadedBlobs++;
        result.bytesUploaded += sent;
        progress({ phase: 'blob', detail: `${short(b.digest)} uploaded (${describeBytes(sent)})` });
      }
    });
  }

  // 5. Manifest by digest first: the image is complete and addressable before any tag names it.
  progress({ phase: 'manifest', detail: digest });
  if (!alreadyThere) await targetClient.putManifest(targetRef.repository, digest, manifestBytes, MediaType.ociManifest, display);
  // 6. Tag last, and only if nobody cancelled in the meantime.
  checkAborted(opts.signal, target);
  progress({ phase: 'tag', detail: result.ref });
  await targetClient.putManifest(targetRef.repository, tag, manifestBytes, MediaType.ociManifest, display);

  result.requests = clients.reduce((n, c) => n + c.requestCount, 0);
  progress({ phase: 'done', detail: `${result.ref}@${digest}` });
  return result;
}
