// One contract per process boundary. Each declares its methods' requests and responses together;
// the typed client stub and the server's handler table both derive from it (see @tel/ipc).
export type { Contract, Method, StreamMethod, StreamMethodNames } from './contract.js';
export * from './userd.js';
export * from './rootd.js';
export * from './manager/index.js';
export * from './agent.js';
export * from './dns.js';
export * from './sockets.js';
export * from './daemon-flags.js';
export * from './defaults.js';
