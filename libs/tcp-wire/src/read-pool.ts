// Reading sockets without a fresh allocation per read. Each read of a plain net.Socket gets a new
// 64 KiB buffer: external memory that V8 only reclaims in a GC, and a process that moves bulk
// data with little JS allocation (the traffic manager) reaches V8's external-memory limit long
// before a scavenge is due: it then ran a mark-compact every ~200 ms of a bulk transfer ("external
// memory pressure", --trace-gc), a quarter of its CPU. Here every socket reads into one shared
// buffer (reads are synchronous: it is free again when the callback returns), the bytes are
// copied into a pooled chunk, and the chunk comes back to the pool once written out
// (spliceFramed's `releaseChunk`).
import net from 'node:net';

const CHUNK = 64 * 1024;
/** Chunks kept for reuse: enough for the data in flight of a few bulk transfers. */
const MAX_FREE = 128;
/** Reads below this are copied into Buffer.allocUnsafe's pool instead (never 64 KiB for a few bytes). */
const SMALL = 4096;
const shared = Buffer.allocUnsafeSlow(CHUNK);
const free: ArrayBuffer[] = [];

/**
 * `net.connect(options)` with pooled reads: the socket emits pooled chunks as 'data' (pause/resume
 * and 'end' behave as usual). Pass `releaseChunk` to the consumer so that written chunks return to
 * the pool.
 */
export function connectPooled(options: net.NetConnectOpts): net.Socket {
  const sock: net.Socket = net.connect({
    ...options,
    onread: { buffer: () => shared, callback: (n: number) => deliver(sock, n) },
  } as net.NetConnectOpts);
  return sock;
}

/** The bytes of one read, from the shared buffer into a chunk of their own, as 'data'. */
function deliver(sock: net.Socket, n: number): boolean {
  // Pausing is the consumer's (sock.pause() stops the reads of such a socket), hence true.
  if (n <= 0) return true;
  // Small reads (an HTTP answer) take a slice of Node's 8 KiB allocation pool, not a chunk.
  const chunk = n < SMALL ? Buffer.allocUnsafe(n) : Buffer.from(free.pop() ?? new ArrayBuffer(CHUNK), 0, n);
  shared.copy(chunk, 0, 0, n);
  sock.emit('data', chunk);
  return true;
}

/**
 * Node's `onread` slots of a socket, found by name on a socket made with that option (net.Server
 * has no such option for the sockets it accepts). Undefined where a Node release names them
 * otherwise: accepted sockets then keep plain reads.
 */
const onreadSlots = (() => {
  const probe = new net.Socket({ onread: { buffer: shared, callback: () => true } } as net.SocketConstructorOpts);
  const find = (name: string) => Object.getOwnPropertySymbols(probe).find((s) => s.description === name);
  const slots = { buffer: find('kBuffer'), callback: find('kBufferCb'), generator: find('kBufferGen') };
  probe.destroy();
  return slots.buffer && slots.callback && slots.generator ? (slots as { buffer: symbol; callback: symbol; generator: symbol }) : undefined;
})();

/**
 * Gives an accepted socket the pooled reads of connectPooled (an upload into the manager would
 * otherwise allocate up to 64 KiB per read: the mark-compacts above). Only before its first read
 * (a server with `pauseOnConnect`); returns false, leaving plain reads, when that is not possible.
 * 'data' then carries pooled chunks: pass `releaseChunk` to whoever writes them out.
 */
export function poolReads(sock: net.Socket): boolean {
  const handle = (sock as unknown as { _handle?: { reading?: boolean; useUserBuffer?: (b: Uint8Array) => void } })._handle;
  if (!onreadSlots || !handle || handle.reading || typeof handle.useUserBuffer !== 'function') return false;
  const slots = sock as unknown as Record<symbol, unknown>;
  slots[onreadSlots.buffer] = shared;
  slots[onreadSlots.generator] = null;
  slots[onreadSlots.callback] = (n: number) => deliver(sock, n);
  handle.useUserBuffer(shared);
  return true;
}

/** A chunk from connectPooled, written out: its memory is reused. Other buffers are ignored. */
export function releaseChunk(chunk: Buffer): void {
  const ab = chunk.buffer;
  if (free.length < MAX_FREE && ab instanceof ArrayBuffer && ab.byteLength === CHUNK && chunk.byteOffset === 0 && ab !== shared.buffer) free.push(ab);
}
