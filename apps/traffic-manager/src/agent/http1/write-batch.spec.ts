import { describe, expect, it } from 'vitest';
import { WriteBatch, joinViews } from './write-batch.js';

describe('write batches of the HTTP/1.1 router', () => {
  it('joins adjacent views of one buffer, keeps the rest apart and in order', () => {
    const read = Buffer.from('HTTP/1.1 200 OK\r\n\r\nbody');
    const head = read.subarray(0, 19);
    const body = read.subarray(19);
    const other = Buffer.from('x');
    const joined = joinViews([head, body, other, read.subarray(0, 4)]);
    expect(joined.map((b) => b.toString())).toEqual(['HTTP/1.1 200 OK\r\n\r\nbody', 'x', 'HTTP']);
    expect(joined[0]!.buffer).toBe(read.buffer); // a view, not a copy
    expect(joinViews([body, head]).map(String)).toEqual(['body', 'HTTP/1.1 200 OK\r\n\r\n']);
  });

  it('holds writes while it runs, per destination; flush writes what is held so far', () => {
    const b = new WriteBatch();
    const out: string[] = [];
    const buf = Buffer.from('abcdef');
    expect(b.add({}, () => undefined, buf)).toBe(false);
    const up = {};
    const client = {};
    b.run(() => {
      expect(b.add(up, (x) => out.push(`up:${x}`), buf.subarray(0, 2))).toBe(true);
      b.add(client, (x) => out.push(`client:${x}`), Buffer.from('1'));
      b.add(up, (x) => out.push(`up:${x}`), buf.subarray(2, 4));
      expect(out).toEqual([]);
      b.flush();
      expect(out).toEqual(['up:abcd', 'client:1']);
      b.add(up, (x) => out.push(`up:${x}`), buf.subarray(4));
    });
    expect(out).toEqual(['up:abcd', 'client:1', 'up:ef']);
  });
});
