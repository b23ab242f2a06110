// The shape of a cluster-facing contract: each method is unary (one JSON request, one JSON answer)
// or a watch (one JSON request, then a stream of events until the client cancels).
import type { ErrorInfo } from '@tel/errors';

/** One request, one answer; JSON over one HTTP/2 stream. */
export interface Unary<Req, Res> {
  kind: 'unary';
  req: Req;
  res: Res;
}

/**
 * A stream of events: the request is a JSON body; the answer is 200 then one JSON event per line
 * (NDJSON) for as long as the client keeps the stream open; cancelling the stream (RST_STREAM
 * CANCEL) ends the watch on both sides. The first event is the current state, so a client never
 * needs a separate call before watching.
 */
export interface Watch<Req, Event> {
  kind: 'watch';
  req: Req;
  event: Event;
}

export type ManagerMethod = Unary<any, any> | Watch<any, any>;

/** A cluster-facing contract: method name → Unary | Watch. */
export type ManagerContractShape<C> = { [K in keyof C]: ManagerMethod };

/**
 * Where a method is served. Unary: GET (no request body; only methods without a request) or POST
 * (JSON body). Watch: always POST.
 */
export type RouteOf<M> = M extends Watch<any, any> ? { kind: 'watch'; path: string } : { kind: 'unary'; http: 'GET' | 'POST'; path: string };

/** The route table of a contract: every method needs one, or the table does not compile. */
export type RouteTable<C> = { [K in keyof C]: RouteOf<C[K]> };

/** Names of the unary / watch methods of a contract. */
export type UnaryNames<C> = { [K in keyof C]: C[K] extends Unary<any, any> ? K : never }[keyof C];
export type WatchNames<C> = { [K in keyof C]: C[K] extends Watch<any, any> ? K : never }[keyof C];

/**
 * Machine-readable reasons a client acts on (never the message text): `unknown-session` means
 * "arrive again" (the manager restarted or the lease expired); `unauthenticated`: an agent's token
 * was refused.
 */
export type ManagerErrorCode = 'unknown-session' | 'bad-request' | 'no-such-route' | 'unauthenticated' | 'internal';

/** Body of any non-200 answer to a contract method. */
export interface ManagerErrorBody {
  error: ErrorInfo & { code: ManagerErrorCode };
}

/** Content types of the two kinds. */
export const JSON_CONTENT_TYPE = 'application/json';
export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';
