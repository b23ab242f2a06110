// The lines on a daemon socket: one JSON object per line. The client sends calls and cancels;
// the server answers each call with any number of events, then exactly one result or error.
import type { ErrorInfo } from '@tel/errors';

/** Client → server: start a call. `id` is unique per connection. */
export interface CallLine {
  id: number;
  method: string;
  params: unknown;
}

/** Client → server: stop call `id`; the handler's AbortSignal fires. */
export interface CancelLine {
  id: number;
  cancel: true;
}

/** Server → client: one event of streamed call `id`, in the order the handler emitted them. */
export interface EventLine {
  id: number;
  event: unknown;
}

/** Server → client: the end of call `id`. */
export type ReplyLine = { id: number; result: unknown } | { id: number; error: ErrorInfo };

export type ServerLine = EventLine | ReplyLine;

/** Splits a byte stream into lines; `onLine` gets each complete line without its newline. */
export function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      onLine(line);
    }
  };
}

/** A JSON object with a numeric `id` (what every line of the protocol is), or undefined. */
function idLine(line: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || typeof (v as { id?: unknown }).id !== 'number') return undefined;
  return v as Record<string, unknown>;
}

/** A server line, or undefined when the text is not one (not JSON, no numeric id, no payload). */
export function parseServerLine(line: string): ServerLine | undefined {
  const o = idLine(line);
  if (!o) return undefined;
  if ('event' in o || 'result' in o) return o as unknown as ServerLine;
  const e = o.error as Partial<ErrorInfo> | undefined;
  if (e && typeof e === 'object' && typeof e.message === 'string' && typeof e.category === 'string') return o as unknown as ServerLine;
  return undefined;
}

/** A client line, or undefined when the text is not one. */
export function parseClientLine(line: string): CallLine | CancelLine | undefined {
  const o = idLine(line);
  if (!o) return undefined;
  if (o.cancel === true) return o as unknown as CancelLine;
  if (typeof o.method === 'string') return o as unknown as CallLine;
  return undefined;
}
