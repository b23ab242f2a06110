// DNS over TCP framing (RFC 1035 §4.2.2): every message on the stream is preceded by its length as
// two bytes, big-endian. The one definition: the root daemon's resolver and upstream forwarding and
// the manager's cluster-DNS queries all frame and split DNS-over-TCP streams with it.

/** The largest DNS message: what a 2-byte TCP length can announce (also the cap on `POST /dns` bodies). */
export const MAX_DNS_MESSAGE = 0xffff;

/** `message` with its 2-byte length in front, ready to write to a DNS-over-TCP stream. */
export function frameDnsTcp(message: Buffer): Buffer {
  if (message.length > MAX_DNS_MESSAGE) throw new RangeError(`DNS message of ${message.length} bytes exceeds ${MAX_DNS_MESSAGE}`);
  const out = Buffer.allocUnsafe(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  return out;
}

/** Splits a DNS-over-TCP byte stream back into messages; chunks may cut anywhere, even the length. */
export class DnsTcpDeframer {
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
