import { describe, expect, it } from 'vitest';
import { U16Deframer as Deframer, frameU16 as frame } from './u16-frames.js';

describe('u16 frames', () => {
  it('round-trips datagrams split at every byte boundary', () => {
    const datagrams = [Buffer.from('hello'), Buffer.alloc(0), Buffer.alloc(1000, 7), Buffer.from('x')];
    const wire = Buffer.concat(datagrams.map(frame));
    for (let cut = 0; cut <= wire.length; cut += 97) {
      const got: Buffer[] = [];
      const d = new Deframer();
      d.push(wire.subarray(0, cut), (p) => got.push(Buffer.from(p)));
      d.push(wire.subarray(cut), (p) => got.push(Buffer.from(p)));
      expect(got).toEqual(datagrams);
    }
  });

  it('refuses a datagram that does not fit the 2-byte length', () => {
    expect(() => frame(Buffer.alloc(65536))).toThrow(RangeError);
  });
});
