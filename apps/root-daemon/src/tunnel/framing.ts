// UDP datagram framing on a tunnel stream (@tel/contracts manager/tunnel.ts): 2-byte big-endian length + payload.

export const MAX_DATAGRAM = 0xffff;

export function frame(payload: Buffer): Buffer {
  if (payload.length > MAX_DATAGRAM) throw new RangeError(`datagram of ${payload.length} bytes exceeds ${MAX_DATAGRAM}`);
  const out = Buffer.allocUnsafe(2 + payload.length);
  out.writeUInt16BE(payload.length, 0);
  payload.copy(out, 2);
  return out;
}

/** Splits a byte stream back into datagrams; chunks may cut frames anywhere. */
export class Deframer {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, emit: (payload: Buffer) => void): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) break;
      emit(buf.subarray(2, 2 + len));
      buf = buf.subarray(2 + len);
    }
    // Copy the remainder so a small tail doesn't pin a large chunk in memory.
    this.pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
  }
}
