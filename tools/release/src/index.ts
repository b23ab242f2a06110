// Public API of @tel/release: the single executable, the release dir, SBOMs and their attachment.
export * from './archive.js';
export * from './node-runtime.js';
export * from './referrer.js';
export * from './release.js';
export * from './sbom.js';
export * from './sea.js';
export * from './verify.js';
