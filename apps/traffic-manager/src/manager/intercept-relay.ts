// The manager's part of an intercepted connection: the agent connects to the agent tunnel port
// (AGENT_TUNNEL_PREFIX in @tel/contracts agent.ts), the manager takes one of the connections the
// owning client's user daemon parked on the TCP tunnel port (TUNNEL_PARK_PREFIX), writes the dial
// line there and from then on copies bytes both ways without looking at them: the framed protocol
// runs end to end between the agent and the user daemon, so the manager adds no parsing per chunk.
import { closeServer, listen } from '../listen.js';
import net from 'node:net';
import { AGENT_TUNNEL_PREFIX, TUNNEL_DIAL_PREFIX } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { readLine } from '@tel/tcp-wire';
import { headerSafe } from './address.js';
import type { AgentStore } from './state/agents.js';
import type { InterceptStore } from './state/intercepts.js';

/** How long an agent's connection waits for its client to park a connection before `ERR`. */
const PARK_WAIT_MS = 3_000;
const LINE_MAX = 256;

interface Waiter {
  resolve: (conn: net.Socket | undefined) => void;
  timer: NodeJS.Timeout;
}

/** A parked connection and the port-forward generation it came through. */
interface Park {
  conn: net.Socket;
  generation: number;
}

/** Connections user daemons parked for intercepted connections, per session. */
export class ParkedConnections {
  /** Oldest first; handed out newest first (the newest came through the daemon's current port-forward). */
  private readonly idle = new Map<string, Park[]>();
  private readonly waiters = new Map<string, Waiter[]>();
  /** The newest generation each session parked with. */
  private readonly newest = new Map<string, number>();

  constructor(private readonly sessionExists: (sessionId: string) => boolean) {}

  /** A `TEL-PARK/1 <sessionId> <generation>` connection (its line already read; nothing may follow it). */
  park(conn: net.Socket, { sessionId, generation }: { sessionId: string; generation: number }): void {
    if (!this.sessionExists(sessionId)) {
      conn.end('ERR unknown session\n');
      return;
    }
    conn.setNoDelay(true);
    if (generation > (this.newest.get(sessionId) ?? -1)) {
      this.newest.set(sessionId, generation);
      this.retire(sessionId, generation);
    }
    const waiting = this.waiters.get(sessionId)?.shift();
    if (waiting) {
      clearTimeout(waiting.timer);
      return waiting.resolve(conn);
    }
    const list = this.idle.get(sessionId) ?? [];
    const park: Park = { conn, generation };
    list.push(park);
    this.idle.set(sessionId, list);
    // Read while idle so a daemon that went away is noticed now, not when a connection needs it:
    // nothing may come before the dial line, so any byte or FIN ends the parked connection.
    const gone = () => {
      if (!this.unlist(sessionId, park)) return;
      // A FIN, not a reset: the kubelet reports a reset on the port-forward's error stream.
      conn.end();
      setTimeout(() => conn.destroy(), 1_000).unref();
    };
    conn.on('data', gone);
    conn.on('end', gone);
    conn.on('close', gone);
    this.idleListeners.set(conn, gone);
    conn.resume();
  }

  /**
   * The daemon parks through a newer port-forward connection: parks that came through an older one
   * died with it (nothing reached us when they did), so they are closed rather than handed out.
   * One still alive gets `ERR` and the daemon parks again.
   */
  private retire(sessionId: string, generation: number): void {
    for (const park of [...(this.idle.get(sessionId) ?? [])]) {
      if (park.generation >= generation) continue;
      this.claim(park.conn);
      this.unlist(sessionId, park);
      park.conn.end('ERR retired: parked through an older port-forward connection\n');
      setTimeout(() => park.conn.destroy(), 1_000).unref();
    }
  }

  private unlist(sessionId: string, park: Park): boolean {
    const l = this.idle.get(sessionId);
    const i = l?.indexOf(park) ?? -1;
    if (i < 0) return false;
    l!.splice(i, 1);
    return true;
  }

  private readonly idleListeners = new WeakMap<net.Socket, () => void>();

  private claim(conn: net.Socket): net.Socket {
    const gone = this.idleListeners.get(conn);
    if (gone) {
      conn.off('data', gone);
      conn.off('end', gone);
      conn.off('close', gone);
      this.idleListeners.delete(conn);
    }
    conn.pause();
    return conn;
  }

  /** A parked connection of `sessionId` (the newest), waiting up to `waitMs` for one; undefined if none came. */
  take(sessionId: string, waitMs = PARK_WAIT_MS): Promise<net.Socket | undefined> {
    const list = this.idle.get(sessionId);
    while (list?.length) {
      const { conn } = list.pop()!;
      if (!conn.destroyed && conn.writable) return Promise.resolve(this.claim(conn));
    }
    if (!this.sessionExists(sessionId)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const queue = this.waiters.get(sessionId) ?? [];
      const w: Waiter = {
        resolve,
        timer: setTimeout(() => {
          const q = this.waiters.get(sessionId);
          const i = q?.indexOf(w) ?? -1;
          if (i >= 0) q!.splice(i, 1);
          resolve(undefined);
        }, waitMs),
      };
      queue.push(w);
      this.waiters.set(sessionId, queue);
    });
  }

  /** A session ended: its parked connections close, its waiters give up. */
  drop(sessionId: string): void {
    for (const { conn } of this.idle.get(sessionId) ?? []) conn.destroy();
    this.idle.delete(sessionId);
    this.newest.delete(sessionId);
    for (const w of this.waiters.get(sessionId) ?? []) {
      clearTimeout(w.timer);
      w.resolve(undefined);
    }
    this.waiters.delete(sessionId);
  }

  count(): number {
    let n = 0;
    for (const l of this.idle.values()) n += l.length;
    return n;
  }
}

export interface AgentTunnelOptions {
  port: number;
  host?: string;
  agents: AgentStore;
  intercepts: InterceptStore;
  parked: ParkedConnections;
  log: Logger;
}

export interface AgentTunnelServer {
  port: number;
  stats(): { active: number; total: number; refused: number };
  close(): Promise<void>;
}

/** The agent tunnel port: one connection per intercepted connection. */
export async function startAgentTunnel(opts: AgentTunnelOptions): Promise<AgentTunnelServer> {
  const log = opts.log.child('agent-tunnel');
  const stats = { active: 0, total: 0, refused: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (conn) => {
    sockets.add(conn);
    conn.once('close', () => sockets.delete(conn));
    conn.on('error', (err) => log.debug('agent connection error', { error: err.message }));
    conn.setNoDelay(true);
    void serve(conn);
  });

  const refuse = (conn: net.Socket, reason: string) => {
    stats.refused++;
    log.debug('intercepted connection refused', { reason });
    conn.resume();
    conn.end(`ERR ${headerSafe(reason)}\n`);
  };

  async function serve(conn: net.Socket): Promise<void> {
    let line: string;
    let rest: Buffer;
    try {
      ({ line, rest } = await readLine(conn, LINE_MAX, 5_000));
    } catch {
      return void conn.destroy();
    }
    const parts = line.replace(/\n$/, '').split(' ');
    if (parts.length !== 5 || parts[0] !== AGENT_TUNNEL_PREFIX) return refuse(conn, `request line must be "${AGENT_TUNNEL_PREFIX} <agentSessionId> <interceptId> <srcIp> <srcPort>"`);
    const [, agentSessionId, interceptId, srcIp, srcPort] = parts as [string, string, string, string, string];
    const agent = opts.agents.find(agentSessionId);
    if (!agent) return refuse(conn, 'unknown agent session');
    const intercept = opts.intercepts.activeFor(interceptId, agent.workload);
    if (!intercept) return refuse(conn, 'no such active intercept');
    if (net.isIP(srcIp) === 0 || !/^\d{1,5}$/.test(srcPort)) return refuse(conn, 'bad source address');
    const t0 = performance.now();
    const client = await opts.parked.take(intercept.sessionId);
    const waited = performance.now() - t0;
    if (waited > 20) log.debug('waited for a parked connection', { ms: Math.round(waited), got: !!client, parkedNow: opts.parked.count() });
    if (!client) return refuse(conn, `client ${intercept.client.user}@${intercept.client.host} is not reachable`);
    if (conn.destroyed) return void client.destroy();
    stats.active++;
    stats.total++;
    client.write(Buffer.concat([Buffer.from(`${TUNNEL_DIAL_PREFIX} ${interceptId} ${srcIp} ${srcPort}\n`, 'latin1'), rest]));
    log.debug('intercepted connection relayed', { intercept: interceptId, from: `${srcIp}:${srcPort}`, parkedLeft: opts.parked.count() });
    // Relayed at once, both ways: the agent's close (it gives up after its OK timeout) must reach
    // the park as it happens, or a park that never answers would hold both connections forever.
    relay(conn, client, () => stats.active--);
  }

  server.on('error', (err) => log.error('agent tunnel server error', { error: err.message }));
  const port = await listen(server, opts.port, opts.host ?? '0.0.0.0');
  return {
    port,
    stats: () => ({ ...stats }),
    close: () => closeServer(server, sockets),
  };
}

/**
 * Copies both ways until both ends are done. Each end's FIN is passed on as a FIN (the framed
 * protocol ends both directions with frames, so this only happens at its very end); an error or
 * an early close of either side closes the other (the peer sees an abort, as the protocol says).
 */
export function relay(a: net.Socket, b: net.Socket, onDone: () => void): void {
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    onDone();
  };
  const pair = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => from.resume());
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => {
      if (!from.readableEnded) to.destroy();
      if (a.destroyed && b.destroyed) finish();
    });
  };
  pair(a, b);
  pair(b, a);
  a.resume();
  b.resume();
}
