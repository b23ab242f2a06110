// Personal intercepts' HTTP/1.1 routing in the traffic agent: the filter a personal intercept
// carries, and the router that sends each request of a client connection where its filter says.
export { APP_TARGET, READ_AHEAD_MAX, REPLAY_MAX, routeHttp1, type Http1RouteOptions, type Target, type UpstreamSocket } from './router.js';
