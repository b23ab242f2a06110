// The agent's data ports: one listener per distinct agent port of its config, on the pod network
// (the Service's named targetPort or the init container's redirect lands here). Each accepted
// connection goes to its port's active intercept, else to the app container.
import net from 'node:net';
import type { Logger } from '@tel/logging';
import { proxyToApp } from './app-proxy.js';
import type { PortRoute } from './control.js';
import { APP_TARGET, type Target, type UpstreamSocket } from './http1/index.js';
import { routeHttp } from './http-route.js';
import { carryIntercepted, dialIntercept, type InterceptTargets } from './intercepted.js';
import { matches } from '@tel/agent-config';

export interface DataListenersOptions extends InterceptTargets {
  /** agentPort → appPort. */
  ports: Map<number, number>;
  host?: string;
  routeFor(agentPort: number): PortRoute | undefined;
  log: Logger;
}

export interface DataListeners {
  /** intercepted: taken whole by a global intercept; routed: read request by request for personal ones. */
  stats(): { active: number; total: number; intercepted: number; routed: number };
  /** Stops accepting, waits for open connections up to `graceMs`, then ends the rest. */
  close(graceMs: number): Promise<void>;
}

const noop = () => undefined;

export async function startDataListeners(opts: DataListenersOptions): Promise<DataListeners> {
  const open = new Set<net.Socket>();
  const counts = { total: 0, intercepted: 0, routed: 0 };
  const servers: net.Server[] = [];
  const log = opts.log.child('data');
  const untrack = function (this: net.Socket) {
    open.delete(this);
  };

  for (const [agentPort, appPort] of opts.ports) {
    // allowHalfOpen: a FIN is passed on, never taken for a close. pauseOnConnect: nothing is read
    // before we know where the connection goes. Node's 16 KiB write buffer is kept (the manager's
    // tunnel server uses 1 MiB): with 200 busy connections a bigger one cost ~200 MB of RSS (each
    // buffers up to its mark before pausing the other side) for no measurable throughput.
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
      counts.total++;
      open.add(client);
      client.once('close', untrack);
      client.on('error', noop); // each path passes a failure on to the other side
      const route = opts.routeFor(agentPort);
      if (route?.kind === 'global') {
        counts.intercepted++;
        carryIntercepted(client, route.route, appPort, opts);
      } else if (route?.kind === 'personal') {
        counts.routed++;
        routePersonal(client, agentPort, appPort, opts);
      } else {
        proxyToApp(client, { appHost: opts.appHost, appPort });
      }
    });
    server.on('error', (err) => log.error(`agent port ${agentPort}: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(agentPort, opts.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: Error) => {
      for (const s of servers) s.close();
      throw new Error(`can't listen on agent port ${agentPort}: ${err.message}`);
    });
    servers.push(server);
  }

  return {
    stats: () => ({ active: open.size, ...counts }),
    close: async (graceMs) => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              // Open connections keep close() pending; the grace below is what bounds it.
              if (open.size > 0) resolve();
            }),
        ),
      );
      if (open.size === 0) return;
      log.info(`waiting up to ${graceMs} ms for ${open.size} open connections`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        const check = () => {
          if (open.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        };
        for (const s of open) s.once('close', () => setImmediate(check));
      });
      for (const s of open) s.destroy();
    },
  };
}

/**
 * A connection to a port with personal intercepts: each request (HTTP/1.1) or stream (HTTP/2) goes
 * to the first intercept whose filter it matches, else to the app; what is not HTTP goes to the app. The port's intercepts are looked up again for every request,
 * so one that ends stops getting requests on connections already open.
 */
function routePersonal(client: net.Socket, agentPort: number, appPort: number, opts: DataListenersOptions): void {
  const peer = { ...(client.remoteAddress ? { address: client.remoteAddress } : {}), ...(client.remotePort ? { port: client.remotePort } : {}) };
  routeHttp(client, {
    choose(req) {
      const route = opts.routeFor(agentPort);
      if (route?.kind !== 'personal') return APP_TARGET;
      return route.routes.find((r) => matches(r.filter, req))?.interceptId ?? APP_TARGET;
    },
    connect(target: Target): Promise<UpstreamSocket> {
      if (target === APP_TARGET) return connectApp(opts.appHost, appPort);
      const route = opts.routeFor(agentPort);
      const r = route?.kind === 'personal' ? route.routes.find((x) => x.interceptId === target) : undefined;
      if (!r) return Promise.reject(new Error(`intercept ${target} ended`));
      return dialIntercept(r, peer, opts);
    },
    log: opts.log,
  });
}

function connectApp(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}
