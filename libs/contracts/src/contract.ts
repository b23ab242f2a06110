// The shape every contract has: method name → a unary method {req, res} or a streamed method
// {req, event, res}. @tel/ipc derives the client stub and the server's handler table from it.

/** One RPC method: what the caller sends and what it gets back. */
export interface Method<Req, Res> {
  req: Req;
  res: Res;
}

/**
 * A streamed method: the caller sends `req`, receives any number of `event`s in order, then one
 * `res` (or an error). The caller may cancel; the handler sees that as its AbortSignal firing.
 */
export interface StreamMethod<Req, Event, Res> {
  req: Req;
  event: Event;
  res: Res;
}

/** A contract is an interface whose every member is a Method or a StreamMethod. */
export type Contract<C> = { [K in keyof C]: Method<any, any> | StreamMethod<any, any, any> };

/** The names of a contract's streamed methods. */
export type StreamMethodNames<C> = { [K in keyof C]: C[K] extends StreamMethod<any, any, any> ? K : never }[keyof C];
