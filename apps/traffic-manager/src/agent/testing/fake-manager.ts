// A manager for the agent's tests, on real loopback sockets: the agent contract served by the
// manager's own router over HTTP/2, and a data port that answers each TEL-AGENT line as the test
// asks (splice to a workstation server, record then answer, ERR, close, silence).
import http2, { type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import { AGENT_ROUTES, type AgentArriveRequest, type AgentIntercept } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { MAX_REQUEST_LINE, readLine, spliceFramed } from '@tel/tcp-wire';
import { RequestError, createRouter, type WatchSink } from '../../manager/router.js';

export type TunnelMode =
  /** `OK`, then a framed splice to the workstation server at `workstationPort` (or the intercept's). */
  | { kind: 'splice'; workstationPort: number | ((interceptId: string) => number) }
  /** Reads frames up to the zero frame, records them, answers `OK` + `answer` framed + zero frame. */
  | { kind: 'record'; answer: Buffer }
  /** Waits for `afterBytes` payload bytes (or the end frame), then `ERR <reason>` and close. */
  | { kind: 'err'; reason: string; afterBytes: number }
  | { kind: 'close' }
  | { kind: 'silent' };

export interface TunnelRecord {
  line: string;
  payload: Buffer;
}

export class FakeManager {
  arrives: { token: string | undefined; req: AgentArriveRequest }[] = [];
  intercepts: AgentIntercept[] = [];
  tunnelMode: TunnelMode = { kind: 'close' };
  tunnelRecords: TunnelRecord[] = [];
  /** Answer arrives with `unauthenticated` while true. */
  refuseArrive = false;
  apiPort = 0;
  tunnelPort = 0;

  private readonly sinks = new Set<WatchSink<{ intercepts: AgentIntercept[] }>>();
  private readonly watchStreams = new Set<ServerHttp2Stream>();
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly sockets = new Set<net.Socket>();
  private readonly api: http2.Http2Server;
  private readonly tunnel: net.Server;
  private lastToken: string | undefined;

  constructor(log: Logger) {
    const router = createRouter(
      AGENT_ROUTES,
      {
        agentArrive: (req) => {
          this.arrives.push({ token: this.lastToken, req });
          if (this.refuseArrive) throw new RequestError('unauthenticated', 'cluster', 'token refused');
          return { agentSessionId: `s${this.arrives.length}` };
        },
        watchAgentIntercepts: (_req, sink) => {
          this.sinks.add(sink);
          sink.signal.addEventListener('abort', () => this.sinks.delete(sink));
          sink.send({ intercepts: this.intercepts });
        },
      },
      {},
      log,
    );
    this.api = http2.createServer();
    this.api.on('session', (s) => {
      this.sessions.add(s);
      s.once('close', () => this.sessions.delete(s));
    });
    this.api.on('stream', (stream, headers) => {
      this.lastToken = headers.authorization?.replace(/^Bearer /, '');
      if (headers[':path'] === AGENT_ROUTES.watchAgentIntercepts.path) {
        this.watchStreams.add(stream);
        stream.once('close', () => this.watchStreams.delete(stream));
      }
      router(stream, headers);
    });
    this.tunnel = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (conn) => {
      this.sockets.add(conn);
      conn.once('close', () => this.sockets.delete(conn));
      conn.on('error', () => undefined);
      void this.serveTunnel(conn);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.api.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => this.tunnel.listen(0, '127.0.0.1', r));
    this.apiPort = (this.api.address() as net.AddressInfo).port;
    this.tunnelPort = (this.tunnel.address() as net.AddressInfo).port;
  }

  /** The new intercept set, sent to every open watch. */
  setIntercepts(intercepts: AgentIntercept[]): void {
    this.intercepts = intercepts;
    for (const s of this.sinks) s.send({ intercepts });
  }

  get watching(): number {
    return this.sinks.size;
  }

  /** Resets every open watch stream (the HTTP/2 session stays). */
  breakWatches(): void {
    for (const s of this.watchStreams) s.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }

  /** Ends every data-port connection and stops listening there (the control port stays). */
  async closeTunnel(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.tunnel.close(r));
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
    await Promise.all([new Promise((r) => this.api.close(r)), new Promise((r) => this.tunnel.close(r))]);
  }

  private async serveTunnel(conn: net.Socket): Promise<void> {
    const mode = this.tunnelMode;
    if (mode.kind === 'close') return void conn.destroy();
    let first: { line: string; rest: Buffer };
    try {
      first = await readLine(conn, MAX_REQUEST_LINE, 10_000);
    } catch {
      return void conn.destroy();
    }
    const record: TunnelRecord = { line: first.line, payload: Buffer.alloc(0) };
    this.tunnelRecords.push(record);
    if (mode.kind === 'silent') return;
    if (mode.kind === 'splice') {
      const port = typeof mode.workstationPort === 'number' ? mode.workstationPort : mode.workstationPort(first.line.split(' ')[2] ?? '');
      const ws = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      ws.on('error', () => undefined);
      ws.pause();
      ws.once('connect', () => spliceFramed(ws, conn, { initialTunnelBytes: first.rest, preamble: { data: Buffer.from('OK\n'), maxDelayMs: 5 } }));
      return;
    }
    // record / err: read frames as they come
    let buf = first.rest;
    const payload: Buffer[] = [];
    let got = 0;
    let ended = false;
    const parse = () => {
      while (buf.length >= 4 && !ended) {
        const n = buf.readUInt32BE(0);
        if (n === 0) {
          ended = true;
          buf = buf.subarray(4);
          break;
        }
        if (buf.length < 4 + n) break;
        payload.push(buf.subarray(4, 4 + n));
        got += n;
        buf = buf.subarray(4 + n);
      }
      record.payload = Buffer.concat(payload);
    };
    const step = () => {
      parse();
      if (mode.kind === 'err' && (got >= mode.afterBytes || ended)) {
        conn.off('data', onData);
        conn.end(`ERR ${mode.reason}\n`);
        return;
      }
      if (mode.kind === 'record' && ended) {
        conn.off('data', onData);
        const h = Buffer.alloc(4);
        h.writeUInt32BE(mode.answer.length);
        conn.end(Buffer.concat([Buffer.from('OK\n'), h, mode.answer, Buffer.alloc(4)]));
      }
    };
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      step();
    };
    conn.on('data', onData);
    step();
    conn.resume();
  }
}
