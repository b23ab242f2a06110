// One request/response exchange of the HTTP/1.1 router and the upstream connections it goes over:
// their state, and the rule for sending a request again when its target closes without answering.
import type { Duplex } from 'node:stream';
import { BodyFramer, type ParsedRequest } from './wire.js';

/** Opaque key of where a request goes: APP_TARGET or an intercept id. */
export type Target = string;
export const APP_TARGET: Target = 'app';
/** Client bytes read ahead while a response is awaited; past this the client is not read. */
export const READ_AHEAD_MAX = 1024 * 1024;
/** A request up to this size is kept until its answer starts, so that it can be sent again elsewhere. */
export const REPLAY_MAX = 64 * 1024;

/** A connection to a target: a TCP socket to the app, or a tunnel to a workstation (@tel/tcp-wire FramedDuplex). */
export type UpstreamSocket = Duplex & { setNoDelay?: (noDelay?: boolean) => unknown };

export interface Upstream {
  target: Target;
  sock: UpstreamSocket;
  /** Bytes read from it and not yet relayed. */
  resBuf: Buffer;
  ended: boolean;
  /** Its last write did not drain yet. */
  blocked: boolean;
  /** Exchanges sent on it so far. */
  uses: number;
}

export interface Exchange {
  target: Target;
  method: string;
  up?: Upstream;
  reqBody: BodyFramer;
  resBody?: BodyFramer;
  resCloses: boolean;
  resDone: boolean;
  /** The request's bytes so far while they fit REPLAY_MAX; undefined past it. */
  kept: Buffer[] | undefined;
  keptBytes: number;
  /** Its upstream had carried an earlier exchange (a keep-alive connection the server may just have closed). */
  reusedUp: boolean;
  resStarted: boolean;
  retries: number;
}

export function newExchange(target: Target, head: ParsedRequest): Exchange {
  return {
    target,
    method: head.req.method,
    reqBody: new BodyFramer(head.framing),
    resCloses: false,
    resDone: false,
    kept: [],
    keptBytes: 0,
    reusedUp: false,
    resStarted: false,
    retries: 0,
  };
}

/** Keeps request bytes for a replay while the request fits REPLAY_MAX. */
export function keep(ex: Exchange, bytes: Buffer): void {
  if (!ex.kept) return;
  ex.keptBytes += bytes.length;
  if (ex.keptBytes > REPLAY_MAX) ex.kept = undefined;
  else ex.kept.push(bytes);
}

/**
 * Where the exchange goes again after `failed` closed before a byte of its answer: a reused
 * keep-alive connection is tried once afresh (the server may have timed it out as the request
 * left), and an intercept that cannot answer hands the request to the app, so that a workstation
 * going away never costs a request. Undefined when it can't go again.
 */
export function replayTarget(ex: Exchange, failed: Upstream): Target | undefined {
  if (!ex.kept || ex.resStarted || ex.retries >= 2) return undefined;
  if (ex.reusedUp) return failed.target;
  return failed.target !== APP_TARGET ? APP_TARGET : undefined;
}
