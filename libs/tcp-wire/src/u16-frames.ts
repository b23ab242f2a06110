// Messages on a byte stream, each preceded by its length as two bytes, big-endian: the framing of
// UDP datagrams on the manager tunnel (`POST /udp`) and, byte for byte, of DNS over TCP (RFC 1035
// §4.2.2). The one implementation; @tel/dns-wire names it for DNS.

/** The largest message a 2-byte length can announce. */
export const MAX_U16_FRAME = 0xffff;

/** `message` with its 2-byte length in front. */
export function frameU16(message: Buffer): Buffer {
  if (message.length > MAX_U16_FRAME) throw new RangeError(`a message of ${message.length} bytes does not fit a 2-byte length (${MAX_U16_FRAME} at most)`);
  const out = Buffer.allocUnsafe(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  return out;
}

/** Splits such a stream back into messages; chunks may cut anywhere, even the length. */
export class U16Deframer {
  private pending: Buffer = Buffer.alloc(0);

  /** Feed one chunk; `emit` gets each message completed by it, in order. */
  push(chunk: Buffer, emit: (message: Buffer) => void): void {
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

  /** Bytes held back while waiting for the rest of a message. */
  get buffered(): number {
    return this.pending.length;
  }
}
