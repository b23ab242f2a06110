// connectPooled and poolReads over real loopback sockets: data intact, chunks reused once released, small reads
// never holding a 64 KiB chunk.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectPooled, poolReads, releaseChunk } from './read-pool.js';

/** Connects with pooled reads to a server that sends `data` and ends; calls onChunk per 'data'. */
async function fetchPooled(data: Buffer, onChunk: (c: Buffer) => void): Promise<void> {
  const server = net.createServer((s) => s.end(data));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const sock = connectPooled({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
    sock.on('data', onChunk);
    await new Promise<void>((resolve, reject) => {
      sock.once('end', resolve);
      sock.once('error', reject);
    });
    sock.destroy();
  } finally {
    server.close();
  }
}

describe('connectPooled', () => {
  it('delivers every byte, and reuses the memory of released chunks instead of allocating per read', async () => {
    const data = randomBytes(8 << 20);
    const got: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    let big = 0;
    await fetchPooled(data, (c) => {
      got.push(Buffer.from(c)); // a copy: c's memory is reused after release
      if (c.length >= 4096) {
        big++;
        buffers.add(c.buffer);
      }
      releaseChunk(c);
    });
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(big).toBeGreaterThan(10);
    // Released at once, each chunk's memory serves the next read.
    expect(buffers.size).toBeLessThan(big / 4);
  });

  it('copies a small read into a small buffer, not a 64 KiB chunk', async () => {
    const chunks: Buffer[] = [];
    await fetchPooled(Buffer.from('HTTP/1.1 200 OK\r\n\r\nok'), (c) => chunks.push(c));
    expect(Buffer.concat(chunks).toString()).toBe('HTTP/1.1 200 OK\r\n\r\nok');
    for (const c of chunks) expect(c.buffer.byteLength).toBeLessThan(64 * 1024);
  });
});

describe('poolReads', () => {
  /** A server that pools the reads of what it accepts; the client sends `data` and ends. */
  async function upload(data: Buffer, onAccepted: (s: net.Socket, pooled: boolean) => void): Promise<void> {
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => onAccepted(s, poolReads(s)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await new Promise<void>((resolve, reject) => {
        const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', () => c.end(data));
        c.on('error', reject);
        c.on('close', () => resolve());
        c.resume();
      });
    } finally {
      server.close();
    }
  }

  it('reads an accepted socket into reused chunks, pause and resume holding the reads back', async () => {
    const data = randomBytes(8 << 20);
    const got: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    let big = 0;
    let wasPooled = false;
    let pauses = 0;
    await new Promise<void>((done, fail) => {
      void upload(data, (s, pooled) => {
        wasPooled = pooled;
        s.on('data', (c: Buffer) => {
          got.push(Buffer.from(c));
          if (c.length >= 4096) {
            big++;
            buffers.add(c.buffer);
          }
          releaseChunk(c);
          // A slow consumer now and then: no read may arrive while paused.
          if (got.length % 16 === 0) {
            s.pause();
            pauses++;
            const onPausedData = () => fail(new Error('data while paused'));
            s.once('data', onPausedData);
            setTimeout(() => {
              s.off('data', onPausedData);
              s.resume();
            }, 5);
          }
        });
        s.on('end', () => {
          s.end();
          done();
        });
        s.resume(); // accepted paused: a 'data' listener alone does not start the flow
      }).catch(fail);
    });
    expect(wasPooled).toBe(true);
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(pauses).toBeGreaterThan(0);
    expect(big).toBeGreaterThan(10);
    expect(buffers.size).toBeLessThan(big / 4);
  });

  it('refuses a socket that is already reading, which keeps its plain reads', async () => {
    let pooled: boolean | undefined;
    const got: Buffer[] = [];
    await new Promise<void>((done, fail) => {
      void upload(Buffer.from('hello'), (s) => {
        s.resume();
        pooled = poolReads(s);
        s.on('data', (c: Buffer) => got.push(c));
        s.on('end', () => {
          s.end();
          done();
        });
      }).catch(fail);
    });
    expect(pooled).toBe(false);
    expect(Buffer.concat(got).toString()).toBe('hello');
  });
});
