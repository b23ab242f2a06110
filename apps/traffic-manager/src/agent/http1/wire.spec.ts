import { describe, expect, it } from 'vitest';
import { BodyFramer, parseRequestHead, parseResponseHead } from './wire.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('parseRequestHead', () => {
  it('reads method, path, headers and framing; stops at the head', () => {
    const r = parseRequestHead(b('POST /x?y HTTP/1.1\r\nHost: h\r\nX-Dev:  alice \r\nContent-Length: 3\r\n\r\nabcGET'));
    expect('head' in r && r.length).toBe(b('POST /x?y HTTP/1.1\r\nHost: h\r\nX-Dev:  alice \r\nContent-Length: 3\r\n\r\n').length);
    if (!('head' in r)) throw new Error('no head');
    expect(r.head.req.method).toBe('POST');
    expect(r.head.req.path).toBe('/x');
    expect(r.head.req.headers.get('x-dev')).toEqual(['alice']);
    expect(r.head.framing).toEqual({ type: 'length', n: 3 });
  });
  it.each([
    ['GET / HTTP/1.1\r\nHost: h\r\n', 'incomplete'],
    ['GET / HTTP/2.0\r\n\r\n', 'error'],
    ['GET  / HTTP/1.1\r\n\r\n', 'error'],
    ['GET / HTTP/1.1\r\nBad Name: x\r\n\r\n', 'error'],
    ['GET / HTTP/1.1\r\n folded\r\n\r\n', 'error'],
    ['POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 'error'],
    ['POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', 'error'],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', 'error'],
    ['POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n', 'head'],
    ['\r\nGET / HTTP/1.1\r\n\r\n', 'head'],
  ])('%j → %s', (raw, kind) => {
    expect(Object.keys(parseRequestHead(b(raw)))[0]).toBe(kind === 'incomplete' ? 'incomplete' : kind);
  });
  it('upgrade and CONNECT are tunnels', () => {
    const up = parseRequestHead(b('GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n'));
    expect('head' in up && up.head.tunnel).toBe(true);
    const noConn = parseRequestHead(b('GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n'));
    expect('head' in noConn && noConn.head.tunnel).toBe(false);
    const c = parseRequestHead(b('CONNECT h:443 HTTP/1.1\r\n\r\n'));
    expect('head' in c && c.head.tunnel).toBe(true);
  });
});

describe('parseResponseHead', () => {
  const framing = (raw: string, method = 'GET') => {
    const r = parseResponseHead(b(raw), method);
    return 'head' in r ? r.head : r;
  };
  it.each([
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'GET', { type: 'length', n: 5 }],
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'HEAD', { type: 'length', n: 0 }],
    ['HTTP/1.1 204 No Content\r\n\r\n', 'GET', { type: 'length', n: 0 }],
    ['HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n', 'GET', { type: 'length', n: 0 }],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET', { type: 'chunked' }],
    ['HTTP/1.1 200 OK\r\n\r\n', 'GET', { type: 'close' }],
    ['HTTP/1.1 200\r\nTransfer-Encoding: gzip\r\n\r\n', 'GET', { type: 'close' }],
  ])('%j to %s', (raw, method, want) => {
    expect(framing(raw, method)).toMatchObject({ framing: want });
  });
  it('1xx is interim, 101 a tunnel, close is noticed', () => {
    expect(framing('HTTP/1.1 100 Continue\r\n\r\n')).toMatchObject({ interim: true, tunnel: false });
    expect(framing('HTTP/1.1 101 Switching Protocols\r\n\r\n')).toMatchObject({ tunnel: true });
    expect(framing('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ closes: true });
    expect(framing('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ closes: true });
  });
});

describe('BodyFramer', () => {
  it('finds the end of a chunked body fed a byte at a time', () => {
    const body = b('4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n');
    const f = new BodyFramer({ type: 'chunked' });
    let taken = 0;
    for (let i = 0; i < body.length; i++) {
      const n = f.feed(body.subarray(i, i + 1));
      expect(n).not.toBeInstanceOf(Error);
      taken += n as number;
      if (f.done) break;
    }
    expect(f.done).toBe(true);
    expect(taken).toBe(body.length);
    expect(f.feed(b('NEXT'))).toBe(0);
  });
  it('stops a chunked body at its end and rejects bad chunk lines', () => {
    const f = new BodyFramer({ type: 'chunked' });
    expect(f.feed(b('3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1'))).toBe(13);
    expect(new BodyFramer({ type: 'chunked' }).feed(b('zz\r\n'))).toBeInstanceOf(Error);
    expect(new BodyFramer({ type: 'chunked' }).feed(b('3\r\nabcX\r\n'))).toBeInstanceOf(Error);
  });
  it('counts a length body', () => {
    const f = new BodyFramer({ type: 'length', n: 3 });
    expect(f.feed(b('ab'))).toBe(2);
    expect(f.feed(b('cde'))).toBe(1);
    expect(f.done).toBe(true);
  });
});
