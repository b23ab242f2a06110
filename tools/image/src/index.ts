// Public API of @tel/image: a daemonless OCI image builder and Distribution v2 registry client.
export { ImageError, type ImageErrorCategory, type ImageErrorCode } from './errors.js';
export { parseImageRef, formatImageRef, type ImageRef } from './ref.js';
export type { LayerEntry } from './layer/entries.js';
export { buildLayer, writeTar, gzipDeterministic, LAYER_MTIME, GZIP_LEVEL, type BuiltLayer } from './layer/tar.js';
export { LayerCache } from './layer/cache.js';
export { hostBinaryEntries, parseLdd, type HostBinaryOptions } from './layer/hostbin.js';
export { buildAndPush, type BuildSpec, type PushOptions, type PushResult, type ProgressEvent } from './build.js';
export { inspectImage, pullBlob, type InspectResult, type ReadOptions } from './inspect.js';
export { nodeBaseSpec, type NodeBaseOptions } from './node-base.js';
export type { RegistryAuth } from './registry/auth.js';
export { RegistryClient, isInsecureRegistry } from './registry/client.js';
export { MediaType } from './oci/types.js';
