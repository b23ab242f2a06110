// The agent's data ports: one listener per distinct agent port of its config, on the pod network
// (the Service's named targetPort or the init container's redirect lands here). Each accepted
// connection goes to its port's active intercept, else to the app container.
import net from 'node:net';
import type { Logger } from '@tel/logging';
import { proxyToApp } from './app-proxy.js';
import type { InterceptRoute } from './control.js';
import { carryIntercepted, type InterceptTargets } from './intercepted.js';

export interface DataListenersOptions extends InterceptTargets {
  /** agentPort → appPort. */
  ports: Map<number, number>;
  host?: string;
  routeFor(agentPort: number): InterceptRoute | undefined;
  log: Logger;
}

export interface DataListeners {
  stats(): { active: number; total: number; intercepted: number };
  /** Stops accepting, waits for open connections up to `graceMs`, then ends the rest. */
  close(graceMs: number): Promise<void>;
}

const noop = () => undefined;

export async function startDataListeners(opts: DataListenersOptions): Promise<DataListeners> {
  const open = new Set<net.Socket>();
  const counts = { total: 0, intercepted: 0 };
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
      if (route) {
        counts.intercepted++;
        carryIntercepted(client, route, appPort, opts);
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
