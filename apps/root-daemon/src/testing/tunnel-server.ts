// Test stand-in for the traffic manager's tunnel endpoint (@tel/contracts manager/tunnel.ts) on a unix socket:
// CONNECT streams are dialled to whatever `resolve` maps the destination to (servers the test runs
// on loopback), POST /udp flows are echoed; every destination asked for is recorded.
import { rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { TUNNEL_DESTINATION_HEADER, TUNNEL_ERROR_HEADER, TUNNEL_UDP_PATH } from '@tel/contracts';
import { Deframer, frame } from '../tunnel/framing.js';

export interface TunnelServer {
  /** `ip:port` of every CONNECT, in arrival order. */
  tcpDestinations: string[];
  /** `ip:port` of every UDP flow. */
  udpDestinations: string[];
  close(): Promise<void>;
}

export async function startTunnelServer(
  socketPath: string,
  resolve: (ip: string, port: number) => { host: string; port: number } | 'discard' | null,
): Promise<TunnelServer> {
  const tcpDestinations: string[] = [];
  const udpDestinations: string[] = [];
  const server = http2.createServer({ settings: { initialWindowSize: 4 << 20 } });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('connect', () => undefined);
    s.setLocalWindowSize(64 << 20);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const method = headers[':method'];
    if (method === 'CONNECT') {
      const authority = String(headers[':authority']);
      tcpDestinations.push(authority);
      const i = authority.lastIndexOf(':');
      const target = resolve(authority.slice(0, i), Number(authority.slice(i + 1)));
      if (!target) {
        stream.respond({ ':status': 502, [TUNNEL_ERROR_HEADER]: 'connection refused' }, { endStream: true });
        return;
      }
      if (target === 'discard') {
        // Counts and drops, answering the count: measures the workstation side, not a far server.
        let n = 0;
        stream.respond({ ':status': 200 });
        stream.on('data', (c: Buffer) => (n += c.length));
        stream.on('end', () => stream.end(String(n)));
        return;
      }
      const up = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
      up.on('error', () => {
        if (!stream.headersSent) stream.respond({ ':status': 502, [TUNNEL_ERROR_HEADER]: 'dial failed' }, { endStream: true });
        else stream.destroy();
      });
      up.once('connect', () => {
        stream.respond({ ':status': 200 });
        stream.pipe(up);
        up.pipe(stream);
      });
      stream.on('close', () => up.destroy());
      return;
    }
    if (method === 'POST' && headers[':path'] === TUNNEL_UDP_PATH) {
      udpDestinations.push(String(headers[TUNNEL_DESTINATION_HEADER]));
      stream.respond({ ':status': 200 });
      const d = new Deframer();
      stream.on('data', (chunk: Buffer) => d.push(chunk, (p) => stream.write(frame(Buffer.concat([Buffer.from('echo:'), p])))));
      stream.on('end', () => stream.end());
      return;
    }
    stream.respond({ ':status': 404 }, { endStream: true });
  });
  rmSync(socketPath, { force: true });
  await new Promise<void>((res) => server.listen(socketPath, res));
  return {
    tcpDestinations,
    udpDestinations,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sessions) s.destroy();
        server.close(() => res());
      }),
  };
}
