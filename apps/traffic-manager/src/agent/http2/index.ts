// HTTP/2 cleartext (prior knowledge, gRPC included) routing in the traffic agent: each stream of a
// client connection goes to the app or the intercept its own headers choose.
export { H2_IDLE_PROBE_MS, H2_PING_WAIT_MS, H2_PREFACE, routeHttp2, type Http2RouteOptions, type Http2Tuning } from './router.js';
