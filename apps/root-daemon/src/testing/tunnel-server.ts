// Test stand-in for the traffic manager's tunnel endpoints on unix sockets (the user daemon's
// port-forward sockets): the TCP stream tunnel (@tel/contracts manager/tunnel.ts, served with
// @tel/tcp-wire) dials whatever `resolve` maps the destination to (servers the test runs on
// loopback); POST /udp flows (HTTP/2) are echoed. Every destination asked for is recorded.
import { rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { TUNNEL_DESTINATION_HEADER, TUNNEL_ERROR_HEADER, TUNNEL_UDP_PATH } from '@tel/contracts';
import { MAX_REQUEST_LINE, parseRequest, readLine, spliceFramed } from '@tel/tcp-wire';
import { U16Deframer as Deframer, frameU16 as frame } from '@tel/tcp-wire';

export interface TunnelServer {
  /** `ip:port` of every TCP stream request, in arrival order. */
  tcpDestinations: string[];
  /** `ip:port` of every UDP flow. */
  udpDestinations: string[];
  close(): Promise<void>;
}

/**
 * `socketPath` serves HTTP/2 (UDP flows; a flow to port 9 is refused), `tcpSocketPath` the TCP
 * stream tunnel. `resolve` → null refuses the dial; 'discard' counts the bytes and answers the count.
 */
export async function startTunnelServer(
  socketPath: string,
  resolve: (ip: string, port: number) => { host: string; port: number } | 'discard' | null,
  tcpSocketPath: string,
): Promise<TunnelServer> {
  const tcpDestinations: string[] = [];
  const udpDestinations: string[] = [];
  const server = http2.createServer({ settings: { initialWindowSize: 4 << 20 } });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.setLocalWindowSize(64 << 20);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (headers[':method'] === 'POST' && headers[':path'] === TUNNEL_UDP_PATH) {
      const destination = String(headers[TUNNEL_DESTINATION_HEADER]);
      udpDestinations.push(destination);
      if (destination.endsWith(':9')) {
        stream.respond({ ':status': 502, [TUNNEL_ERROR_HEADER]: 'connection refused' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200 });
      const d = new Deframer();
      stream.on('data', (chunk: Buffer) => d.push(chunk, (p) => stream.write(frame(Buffer.concat([Buffer.from('echo:'), p])))));
      stream.on('end', () => stream.end());
      return;
    }
    stream.respond({ ':status': 404 }, { endStream: true });
  });

  // 'discard': a sink that counts and answers the count (what the far end does, minus the far end).
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const sink = net.createServer({ allowHalfOpen: true }, (s) => {
    track(s);
    let n = 0;
    s.on('data', (c: Buffer) => (n += c.length));
    s.on('end', () => s.end(String(n)));
    s.on('error', () => undefined);
  });
  await new Promise<void>((res) => sink.listen(0, '127.0.0.1', res));
  const sinkPort = (sink.address() as net.AddressInfo).port;

  const serve = (conn: net.Socket, initial: Buffer) => {
    readLine(conn, MAX_REQUEST_LINE, 10_000, initial).then(
      ({ line, rest }) => {
        const req = parseRequest(line);
        if ('error' in req) return void conn.end(`ERR ${req.error}\n`);
        tcpDestinations.push(`${req.host}:${req.port}`);
        const r = resolve(req.host, req.port);
        const target = r === 'discard' ? { host: '127.0.0.1', port: sinkPort } : r;
        const refuse = (why: string) => {
          conn.resume();
          conn.end(`ERR ${why}\n`);
        };
        if (!target) return refuse('connection refused');
        const up = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
        track(up);
        let connected = false;
        up.once('error', () => !connected && refuse('dial failed'));
        up.once('connect', () => {
          connected = true;
          spliceFramed(up, conn, {
            initialTunnelBytes: rest,
            preamble: { data: Buffer.from('OK\n'), maxDelayMs: 0 },
            resetPlainOnAbort: true,
            onReusable: (tunnel, leftover) => serve(tunnel as net.Socket, leftover),
          });
        });
      },
      () => conn.destroy(),
    );
  };
  const tcpServer = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, highWaterMark: 1 << 20 }, (conn) => {
    track(conn);
    conn.on('error', () => undefined);
    serve(conn, Buffer.alloc(0));
  });

  rmSync(socketPath, { force: true });
  rmSync(tcpSocketPath, { force: true });
  await new Promise<void>((res) => server.listen(socketPath, res));
  await new Promise<void>((res) => tcpServer.listen({ path: tcpSocketPath, backlog: 4096 }, res));
  return {
    tcpDestinations,
    udpDestinations,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sessions) s.destroy();
        for (const s of sockets) s.destroy();
        sink.close();
        tcpServer.close();
        server.close(() => res());
      }),
  };
}
