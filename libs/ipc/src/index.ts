// Local RPC between the CLI and its daemons: newline-delimited JSON over a unix socket.
// Typed by a contract from @tel/contracts: the client stub and the server's handler table both
// derive from it, so a handler missing on the server fails to compile. Methods are unary or
// streamed (events, then a result); either can be cancelled, which aborts the handler's signal.
export type { CallContext, CallOptions, Client, Handlers, StreamCall, StreamContext } from './types.js';
export { QUICK_CALL_TIMEOUT_MS } from './types.js';
export { isAlive, serve, type PeerCredentials, type ServeOptions } from './server.js';
export { NotRunningError, connect } from './client.js';
export * from './daemon.js';
export { TRIM_DELAY_MS, libcMallocTrim, trimAfterFullGc } from './malloc-trim.js';
export { IDLE_COMPACTION, compactWhenIdle, fullGc, nextCompaction, startIdleMemory, type IdleCompactionOptions } from './idle-memory.js';
