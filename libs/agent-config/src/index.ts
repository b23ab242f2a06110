// @tel/agent-config: the one description of the traffic-agent sidecar that the manager's injector,
// the manager's intercept logic and the agent share (names, ports, config, pod and template patches).
export * from './names.js';
export * from './errors.js';
export * from './config.js';
export * from './mesh.js';
export * from './pod-patch.js';
export * from './workload.js';
export * from './http-filter.js';
