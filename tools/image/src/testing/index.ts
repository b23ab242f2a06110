// Test fixtures for @tel/image and its consumers: a real local registry, a recording/fault proxy, layer readers.
export { startRegistry, freePort, type TestRegistry, type StartRegistryOptions } from './registry.js';
export { startProxy, type TestProxy, type RecordedRequest, type FaultAction, type ProxyOptions } from './proxy.js';
export { listLayer, unpackLayers, type ListedEntry } from './tar.js';
