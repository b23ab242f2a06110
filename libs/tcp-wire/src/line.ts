// Reading the first line of a connection (the request line on the manager, `OK`/`ERR` on the
// client) without losing the bytes that follow it in the same read (early frames).
import type net from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Reads up to and including the first `\n` of `sock`. Resolves with the line (newline excluded,
 * latin1) and `rest`, the bytes received after the newline (a view, maybe empty), to be handed to
 * spliceFramed as `initialTunnelBytes`. Rejects when the line (newline included) would exceed
 * `maxLen` bytes, when the socket ends, closes or errors first, or after `timeoutMs` (no timer
 * when it is 0 or not finite). Either way the socket is left paused, with no 'data' listener of
 * ours attached, so nothing after the line is consumed. It attaches a temporary 'error' listener
 * only while waiting: the caller must have its own afterwards. `initial`: bytes of this
 * connection already read, to be taken before anything new.
 */
export function readLine(sock: Duplex, maxLen: number, timeoutMs: number, initial?: Buffer): Promise<{ line: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    if (sock.destroyed) {
      reject(new Error('connection closed before the first line'));
      return;
    }
    let head: Buffer[] = [];
    let headLen = 0;
    let settled = false;
    const cleanup = () => {
      settled = true;
      if (timer) clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('close', onClose);
      sock.off('error', onError);
      sock.pause();
    };
    const fail = (message: string) => {
      if (settled) return;
      cleanup();
      reject(new Error(message));
    };
    const onData = (chunk: Buffer) => {
      if (settled) return;
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        headLen += chunk.length;
        if (headLen >= maxLen) return fail(`first line longer than ${maxLen} bytes`);
        head.push(chunk);
        return;
      }
      if (headLen + nl + 1 > maxLen) return fail(`first line longer than ${maxLen} bytes`);
      cleanup();
      const lineBytes = headLen ? Buffer.concat([...head, chunk.subarray(0, nl)]) : chunk.subarray(0, nl);
      head = [];
      resolve({ line: lineBytes.toString('latin1'), rest: chunk.subarray(nl + 1) });
    };
    const onEnd = () => fail('connection ended before the first line');
    const onClose = () => fail('connection closed before the first line');
    const onError = (err: Error) => fail(`connection failed before the first line: ${err.message}`);
    const timer = timeoutMs > 0 && Number.isFinite(timeoutMs) ? setTimeout(() => fail(`no first line within ${timeoutMs} ms`), timeoutMs) : undefined;
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('close', onClose);
    sock.on('error', onError);
    // Bytes already read (what followed the previous exchange on a reused connection) come first.
    if (initial?.length) onData(initial);
    if (settled) return;
    // A socket accepted with pauseOnConnect (or paused by its owner) does not start flowing when a
    // 'data' listener is added.
    sock.resume();
  });
}
