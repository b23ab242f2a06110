// Boundary: traffic agent → traffic manager control calls (@tel/contracts agent.ts AgentContract,
// HTTP/2 cleartext on MANAGER_AGENT_PORT). One HTTP/2 session, made again when it dies; every
// request carries the agent's token; a session whose pings go unanswered is dropped (a manager pod
// that vanished without closing its connections must not keep the agent waiting forever).
import http2 from 'node:http2';
import net from 'node:net';
import { AGENT_ROUTES, AGENT_TOKEN_HEADER, JSON_CONTENT_TYPE, type AgentContract, type ManagerErrorBody } from '@tel/contracts';

type C = AgentContract;

/** How long a unary call may take before the session is considered stuck. */
const CALL_TIMEOUT_MS = 10_000;
/**
 * Bound on the TCP connect to the manager. Inside the cluster it takes a millisecond; one that
 * hangs dials a manager pod that is gone (kube-proxy still pointing at it) and would otherwise
 * hold the next arrive for the whole call timeout.
 */
const CONNECT_TIMEOUT_MS = 2_000;

export class AgentCallError extends Error {
  constructor(
    message: string,
    /** The manager's error code (`unauthenticated`, …) when it answered with one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** A running watch: `done` rejects when the stream ends for any reason other than `cancel()`. */
export interface AgentWatch {
  cancel(): void;
  readonly done: Promise<void>;
}

export interface AgentManagerClientOptions {
  host: string;
  port: number;
  /** Ping the manager this often; a ping still unanswered at the next one drops the session. */
  pingIntervalMs?: number;
}

export class AgentManagerClient {
  private session: http2.ClientHttp2Session | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pingOutstanding = false;
  private closed = false;

  constructor(private readonly opts: AgentManagerClientOptions) {}

  close(): void {
    this.closed = true;
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    this.session?.destroy();
    this.session = undefined;
  }

  private connection(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    if (this.closed) throw new AgentCallError('the agent is shutting down');
    const { host, port } = this.opts;
    // The name is resolved again for every session: a new manager pod is found through its Service.
    const s = http2.connect(`http://${host.includes(':') ? `[${host}]` : host}:${port}`, {
      createConnection: () => {
        const sock = net.connect({ host, port, noDelay: true });
        const timer = setTimeout(() => sock.destroy(new Error(`no TCP connection to the traffic manager at ${host}:${port} within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
        sock.once('connect', () => clearTimeout(timer));
        sock.once('close', () => clearTimeout(timer));
        return sock;
      },
    });
    s.on('error', () => undefined); // surfaced on the requests
    s.on('close', () => {
      if (this.session === s) this.session = undefined;
    });
    this.session = s;
    this.pingOutstanding = false;
    if (!this.pingTimer) {
      this.pingTimer = setInterval(() => this.ping(), this.opts.pingIntervalMs ?? 5_000);
      this.pingTimer.unref();
    }
    return s;
  }

  private ping(): void {
    const s = this.session;
    if (!s || s.destroyed || s.connecting) return;
    if (this.pingOutstanding) {
      // No answer for a whole interval: the manager (or the path to it) is gone.
      s.destroy(new Error('the traffic manager stopped answering pings'));
      return;
    }
    this.pingOutstanding = true;
    s.ping((err) => {
      if (!err && this.session === s) this.pingOutstanding = false;
    });
  }

  private request(name: keyof C, token: string, body: unknown): http2.ClientHttp2Stream {
    const route = AGENT_ROUTES[name];
    const stream = this.connection().request({
      ':method': 'POST',
      ':path': route.path,
      'content-type': JSON_CONTENT_TYPE,
      [AGENT_TOKEN_HEADER]: `Bearer ${token}`,
    });
    stream.end(JSON.stringify(body));
    return stream;
  }

  private static answerError(what: string, status: number, body: string): AgentCallError {
    try {
      const e = (JSON.parse(body) as ManagerErrorBody).error;
      if (e && typeof e.message === 'string') return new AgentCallError(`${what}: ${e.message} (${e.code})`, e.code);
    } catch {
      // not a contract error body
    }
    return new AgentCallError(`${what}: answered ${status} ${body.trim().slice(0, 120)}`);
  }

  /** `agentArrive`: the agent session the manager opens for this pod. */
  arrive(token: string, req: C['agentArrive']['req']): Promise<C['agentArrive']['res']> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.request('agentArrive', token, req);
      } catch (err) {
        return reject(err instanceof Error ? err : new Error(String(err)));
      }
      let status = 0;
      let body = '';
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        // A stuck connection is useless for the next call too.
        this.session?.destroy();
        reject(new AgentCallError(`agentArrive: no answer within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      stream.setEncoding('utf8');
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (d: string) => (body += d));
      stream.on('error', (e) => reject(new AgentCallError(`agentArrive: ${e.message}`)));
      stream.on('close', () => {
        clearTimeout(timer);
        if (status === 0) return reject(new AgentCallError('agentArrive: the connection closed before an answer'));
        if (status !== 200) return reject(AgentManagerClient.answerError('agentArrive', status, body));
        try {
          const lease = JSON.parse(body) as C['agentArrive']['res'];
          if (typeof lease?.agentSessionId !== 'string' || !lease.agentSessionId) throw new Error('no agentSessionId');
          resolve(lease);
        } catch (err) {
          reject(new AgentCallError(`agentArrive: malformed answer (${err instanceof Error ? err.message : String(err)})`));
        }
      });
    });
  }

  /** `watchAgentIntercepts`: `onEvent` gets the current state, then every change. */
  watchIntercepts(token: string, req: C['watchAgentIntercepts']['req'], onEvent: (e: C['watchAgentIntercepts']['event']) => void): AgentWatch {
    let cancelled = false;
    let stream: http2.ClientHttp2Stream | undefined;
    const done = new Promise<void>((resolve, reject) => {
      try {
        stream = this.request('watchAgentIntercepts', token, req);
      } catch (err) {
        return reject(err instanceof Error ? err : new Error(String(err)));
      }
      const s = stream;
      let status = 0;
      let buf = '';
      s.setEncoding('utf8');
      s.on('response', (h) => (status = Number(h[':status'])));
      s.on('data', (d: string) => {
        if (status !== 200) return void (buf += d);
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let event: C['watchAgentIntercepts']['event'];
          try {
            event = JSON.parse(line) as C['watchAgentIntercepts']['event'];
            if (!Array.isArray(event?.intercepts)) throw new Error('no intercepts list');
          } catch (err) {
            s.close(http2.constants.NGHTTP2_CANCEL);
            return reject(new AgentCallError(`watchAgentIntercepts: malformed event (${err instanceof Error ? err.message : String(err)})`));
          }
          onEvent(event);
        }
      });
      s.on('error', (e) => (cancelled ? resolve() : reject(new AgentCallError(`watchAgentIntercepts: ${e.message}`))));
      s.on('close', () => {
        if (cancelled) return resolve();
        if (status !== 0 && status !== 200) return reject(AgentManagerClient.answerError('watchAgentIntercepts', status, buf));
        reject(new AgentCallError('watchAgentIntercepts: the traffic manager ended the watch'));
      });
    });
    done.catch(() => undefined);
    return {
      cancel: () => {
        cancelled = true;
        stream?.close(http2.constants.NGHTTP2_CANCEL);
      },
      done,
    };
  }
}
