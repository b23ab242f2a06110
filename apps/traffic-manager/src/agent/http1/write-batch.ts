// Writes of one read handler of the HTTP/1.1 router, made at its end. The pieces relayed from one
// read (a head, then its body) are views of the same buffer, one after the other: joined they
// leave in one write() instead of a writev() of small pieces, which cost the router more CPU than
// parsing the head did.

interface Queue {
  write: (bytes: Buffer) => void;
  bufs: Buffer[];
}

export class WriteBatch {
  private open = false;
  private readonly queues = new Map<object, Queue>();

  /** Runs `fn` with writes to every destination held until it returns. */
  run(fn: () => void): void {
    this.open = true;
    try {
      fn();
    } finally {
      this.open = false;
      this.flush();
    }
  }

  /** Holds `bytes` for `dest` while a batch runs (`write` sends them later); false: none runs, write now. */
  add(dest: object, write: (bytes: Buffer) => void, bytes: Buffer): boolean {
    if (!this.open) return false;
    const q = this.queues.get(dest);
    if (q) q.bufs.push(bytes);
    else this.queues.set(dest, { write, bufs: [bytes] });
    return true;
  }

  /** Writes everything held so far, in order (before a destination is ended). */
  flush(): void {
    if (this.queues.size === 0) return;
    const queues = [...this.queues.values()];
    this.queues.clear();
    for (const q of queues) for (const b of joinViews(q.bufs)) q.write(b);
  }
}

/** `bufs` with each run of views that continue one another (same memory, adjacent) joined into one. */
export function joinViews(bufs: Buffer[]): Buffer[] {
  if (bufs.length < 2) return bufs;
  const out: Buffer[] = [];
  for (const b of bufs) {
    const last = out[out.length - 1];
    if (last && last.buffer === b.buffer && last.byteOffset + last.length === b.byteOffset) out[out.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + b.length);
    else out.push(b);
  }
  return out;
}
