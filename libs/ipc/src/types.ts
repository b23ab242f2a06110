// The client stub and the server's handler table, both derived from a contract of @tel/contracts:
// a unary method is a promise, a streamed method an async iterable of events plus a result.
import type { Contract, Method, StreamMethod } from '@tel/contracts';

/** What every handler gets besides its request. */
export interface CallContext {
  /** Fires when the caller cancels the call or its connection closes. */
  signal: AbortSignal;
}

/** What a streamed method's handler gets: `emit` sends one event to the caller, in order. */
export interface StreamContext<Event> extends CallContext {
  emit(event: Event): void;
}

type Handler<M> =
  M extends StreamMethod<infer Req, infer Event, infer Res>
    ? (req: Req, ctx: StreamContext<Event>) => Promise<Res>
    : M extends Method<infer Req, infer Res>
      ? (req: Req, ctx: CallContext) => Promise<Res>
      : never;

export type Handlers<C extends Contract<C>> = { [K in keyof C]: Handler<C[K]> };

export interface CallOptions {
  /** The call fails when no answer came within this time (the daemon side is cancelled). */
  timeoutMs?: number;
  /** Aborting it cancels the call on the daemon side too. */
  signal?: AbortSignal;
}

/**
 * A streamed call in flight. Iterate it for the events (the iteration ends when the call does,
 * and throws its error); `result` is the final answer. `cancel()` stops the daemon-side work.
 */
export interface StreamCall<Event, Res> extends AsyncIterable<Event> {
  readonly result: Promise<Res>;
  cancel(): void;
}

type ClientMethod<M> =
  M extends StreamMethod<infer Req, infer Event, infer Res>
    ? (req: Req, opts?: CallOptions) => StreamCall<Event, Res>
    : M extends Method<infer Req, infer Res>
      ? (req: Req, opts?: CallOptions) => Promise<Res>
      : never;

export type Client<C extends Contract<C>> = { [K in keyof C]: ClientMethod<C[K]> } & { close(): void };

/**
 * Bound on a call that only reads a daemon's state (version, status): a local daemon answers in
 * milliseconds, so one that hasn't after this is stuck, not slow.
 */
export const QUICK_CALL_TIMEOUT_MS = 5_000;
