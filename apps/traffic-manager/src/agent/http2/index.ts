// HTTP/2 cleartext (prior knowledge, gRPC included) routing in the traffic agent: each stream of a
// client connection goes to the app or the intercept its own headers choose.
export { H2_PREFACE, routeHttp2, type Http2RouteOptions } from './router.js';
