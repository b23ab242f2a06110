// The agent's path for an intercepted connection: a connection to the manager's data port
// (@tel/contracts agent.ts AGENT_TUNNEL_PREFIX) carries it to the intercepting workstation. The
// line and the client's first bytes leave at once (early data, no round trip for `OK`); those
// bytes are kept until `OK`, so that on `ERR`, a refusal, a close or silence the connection is
// handed to the app container, kept bytes first: a connection is never lost with a laptop.
import net from 'node:net';
import { AGENT_TUNNEL_PREFIX } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { FramedDuplex, MAX_REQUEST_LINE, connectPooled, readLine, releaseChunk, spliceFramed, writeFrame } from '@tel/tcp-wire';
import { proxyToApp } from './app-proxy.js';
import type { InterceptRoute } from './control.js';

/** Bytes kept for the app until `OK`; past this the in-cluster client is not read until it comes. */
export const KEEP_MAX = 256 * 1024;
/** No `OK` within this long: the connection goes to the app. */
export const OK_TIMEOUT_MS = 5_000;

export interface InterceptTargets {
  /** The manager's address now (resolved once, refreshed in the background: manager-address.ts). */
  managerHost: () => string;
  tunnelPort: number;
  appHost: string;
  log: Logger;
  okTimeoutMs?: number;
}

const END_FRAME = Buffer.alloc(4);
const noop = () => undefined;


/**
 * Takes over `client` (accepted paused, allowHalfOpen, with an 'error' listener) for the intercept
 * `route`; `appPort` is where it goes when the intercept can't take it.
 */
export function carryIntercepted(client: net.Socket, route: InterceptRoute, appPort: number, t: InterceptTargets): void {
  // Pooled reads: spliceFramed gives each tunnel chunk back once its pieces are written to the
  // client (releaseTunnelChunk), so a bulk answer reuses the same memory instead of 64 KiB per read.
  const tunnel = connectPooled({ host: t.managerHost(), port: t.tunnelPort, allowHalfOpen: true, noDelay: true } as net.NetConnectOpts);
  tunnel.on('error', noop); // readLine, then the splice, report what matters
  // The line and whatever the client sent meanwhile leave in one write once connected.
  tunnel.cork();
  tunnel.once('connect', () => tunnel.uncork());
  tunnel.write(`${AGENT_TUNNEL_PREFIX} ${route.agentSessionId} ${route.interceptId} ${client.remoteAddress ?? '0.0.0.0'} ${client.remotePort ?? 0}\n`, 'latin1');

  const kept: Buffer[] = [];
  let keptBytes = 0;
  let ended = false;
  let settled = false;
  const onData = (chunk: Buffer) => {
    kept.push(chunk);
    keptBytes += chunk.length;
    writeFrame(tunnel, chunk);
    if (keptBytes >= KEEP_MAX) client.pause();
  };
  const onEnd = () => {
    ended = true;
    tunnel.write(END_FRAME);
  };
  const onClose = () => {
    // The in-cluster client went away before the answer: nothing left to carry.
    if (settled) return;
    settled = true;
    detach();
    tunnel.destroy();
  };
  const detach = () => {
    client.off('data', onData);
    client.off('end', onEnd);
    client.off('close', onClose);
  };
  client.on('data', onData);
  client.once('end', onEnd);
  client.once('close', onClose);
  client.setNoDelay(true);
  client.resume();

  const toApp = (reason: string) => {
    if (settled) return;
    settled = true;
    detach();
    client.pause();
    tunnel.destroy();
    t.log.debug(`intercept ${route.interceptId}: connection from ${client.remoteAddress}:${client.remotePort} goes to the app`, { reason });
    proxyToApp(client, { appHost: t.appHost, appPort, kept, clientEnded: ended });
  };

  readLine(tunnel, MAX_REQUEST_LINE, t.okTimeoutMs ?? OK_TIMEOUT_MS).then(
    ({ line, rest }) => {
      if (settled) return;
      if (line !== 'OK') return toApp(line.startsWith('ERR ') ? line.slice(4) : `unexpected answer ${JSON.stringify(line.slice(0, 60))}`);
      settled = true;
      detach();
      kept.length = 0;
      spliceFramed(client, tunnel, { initialTunnelBytes: rest, plainEnded: ended, resetPlainOnAbort: true, releaseTunnelChunk: releaseChunk });
    },
    (err: Error) => toApp(err.message),
  );
}

/**
 * A tunnel to `route`'s workstation for one routed HTTP connection (a personal intercept): resolves
 * once the user daemon answered `OK` (its local port took the connection), as a plain byte stream;
 * rejects on `ERR`, a close or silence, and the router then sends the request to the app.
 */
export async function dialIntercept(route: InterceptRoute, peer: { address?: string; port?: number }, t: InterceptTargets): Promise<FramedDuplex> {
  // Fresh (not pooled) reads: the router keeps chunks until it has relayed them.
  const tunnel = net.connect({ host: t.managerHost(), port: t.tunnelPort, allowHalfOpen: true, noDelay: true });
  tunnel.on('error', noop); // readLine reports it; later FramedDuplex does
  tunnel.write(`${AGENT_TUNNEL_PREFIX} ${route.agentSessionId} ${route.interceptId} ${peer.address ?? '0.0.0.0'} ${peer.port ?? 0}\n`, 'latin1');
  try {
    const { line, rest } = await readLine(tunnel, MAX_REQUEST_LINE, t.okTimeoutMs ?? OK_TIMEOUT_MS);
    if (line !== 'OK') throw new Error(line.startsWith('ERR ') ? line.slice(4) : `unexpected answer ${JSON.stringify(line.slice(0, 60))}`);
    return new FramedDuplex(tunnel, rest);
  } catch (err) {
    tunnel.destroy();
    throw err;
  }
}
