// @tel/tcp-wire: the TCP stream tunnel's wire format, its splice and its client (TcpCarrier),
// shared by the traffic manager (server side) and both daemons (client side). Contract: MANAGER_TCP_PORT in
// @tel/contracts manager/tunnel.ts.
export { encodeRequest, parseRequest, MAX_FRAME, MAX_REQUEST_LINE, TCP_REQUEST_PREFIX, type TcpRequest } from './request.js';
export { readLine } from './line.js';
export { spliceFramed, type SpliceOptions, type SpliceResult } from './splice.js';
export { TcpCarrier, writeFrame, type TcpCarrierOptions } from './carrier.js';
export { connectPooled, poolReads, releaseChunk } from './read-pool.js';
export { frameU16, U16Deframer, MAX_U16_FRAME } from './u16-frames.js';
export { FramedDuplex } from './framed-duplex.js';
