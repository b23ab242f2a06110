import { describe, expect, it } from 'vitest';
import { DnsTcpDeframer, MAX_DNS_MESSAGE, frameDnsTcp } from './tcp-framing.js';

const split = (chunks: Buffer[]) => {
  const d = new DnsTcpDeframer();
  const out: string[] = [];
  for (const c of chunks) d.push(c, (m) => out.push(m.toString()));
  return { out, buffered: d.buffered };
};

describe('frameDnsTcp', () => {
  it('prefixes the length as two big-endian bytes', () => {
    expect([...frameDnsTcp(Buffer.from('abc'))]).toEqual([0, 3, 0x61, 0x62, 0x63]);
    expect([...frameDnsTcp(Buffer.alloc(0))]).toEqual([0, 0]);
    expect(frameDnsTcp(Buffer.alloc(300)).readUInt16BE(0)).toBe(300);
  });
  it('refuses a message longer than a 2-byte length can say', () => {
    expect(frameDnsTcp(Buffer.alloc(MAX_DNS_MESSAGE)).length).toBe(MAX_DNS_MESSAGE + 2);
    expect(() => frameDnsTcp(Buffer.alloc(MAX_DNS_MESSAGE + 1))).toThrow(RangeError);
  });
});

describe('DnsTcpDeframer', () => {
  const stream = Buffer.concat([frameDnsTcp(Buffer.from('first')), frameDnsTcp(Buffer.alloc(0)), frameDnsTcp(Buffer.from('x'.repeat(400)))]);
  const want = ['first', '', 'x'.repeat(400)];

  it('splits messages that arrive together', () => {
    expect(split([stream])).toEqual({ out: want, buffered: 0 });
  });
  it.each([1, 2, 3, 7, 100])('reassembles messages cut every %d bytes (including inside the length)', (n) => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += n) chunks.push(stream.subarray(i, i + n));
    expect(split(chunks)).toEqual({ out: want, buffered: 0 });
  });
  it('holds an incomplete message back', () => {
    expect(split([stream.subarray(0, 12)])).toEqual({ out: ['first', ''], buffered: 3 });
  });
});
