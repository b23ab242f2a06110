// One process of bench/agent-router, so the load, the app, and the proxy under test each have their
// own event loop (and CPU accounting), as in a pod. Prints one JSON line: when ready, or its result.
//   app PORT                          the app container: an HTTP server answering "pod"
//   agent PORT APP_PORT personal|none the traffic agent's data listener (the agent's own code):
//                                     20 personal intercepts on the port, or none (plain relay)
//   rate PORT SECONDS                 requests/s on 8 keep-alive connections, header matching nothing
//   latency PORT N                    p50/p99 of N keep-alive requests one at a time (after 50 warm-up)
import http from 'node:http';
import { createLogger } from '@tel/logging';
import { parseFilter } from '@tel/agent-config';
import { startDataListeners } from '../../apps/traffic-manager/src/agent/listeners.js';
import type { PersonalRoute, PortRoute } from '../../apps/traffic-manager/src/agent/control.js';
import { OTHER_HEADER, PERSONAL } from './world.js';


const [mode, ...args] = process.argv.slice(2);
const say = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n');

async function main(): Promise<void> {
  if (mode === 'app') {
    http.createServer((_q, s) => s.end('pod')).listen(Number(args[0]), '127.0.0.1', () => say({ ready: true }));
  } else if (mode === 'agent') {
    const [port, appPort, kind] = [Number(args[0]), Number(args[1]), args[2]];
    const routes: PersonalRoute[] = Array.from({ length: PERSONAL }, (_, i) => {
      const parsed = parseFilter({ headers: [`${OTHER_HEADER.name}=dev-${i}`] });
      if ('error' in parsed) throw new Error(parsed.error);
      return { agentSessionId: 'bench', interceptId: `i-${i}`, filter: parsed.filter };
    });
    const route: PortRoute | undefined = kind === 'personal' ? { kind: 'personal', routes } : undefined;
    await startDataListeners({
      ports: new Map([[port, appPort]]),
      host: '127.0.0.1',
      appHost: '127.0.0.1',
      routeFor: () => route,
      managerHost: () => '127.0.0.1',
      tunnelPort: 1,
      log: createLogger(undefined),
    });
    say({ ready: true });
  } else if (mode === 'rate') {
    const [port, seconds] = [Number(args[0]), Number(args[1])];
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    let n = 0;
    let bad = 0;
    const end = Date.now() + seconds * 1000;
    const loop = () =>
      new Promise<void>((done) => {
        const go = (): void => {
          if (Date.now() > end) return done();
          http
            .get({ host: '127.0.0.1', port, path: '/', agent, headers: { [OTHER_HEADER.name]: OTHER_HEADER.value } }, (r) => {
              let b = '';
              r.on('data', (c) => (b += c));
              r.on('end', () => {
                if (b === 'pod') n++;
                else bad++;
                go();
              });
            })
            .on('error', () => {
              bad++;
              go();
            });
        };
        go();
      });
    await Promise.all(Array.from({ length: 8 }, loop));
    agent.destroy();
    say({ rps: n / seconds, bad });
  } else if (mode === 'latency') {
    const [port, n] = [Number(args[0]), Number(args[1])];
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const times: number[] = [];
    for (let i = 0; i < n + 50; i++) {
      const t0 = process.hrtime.bigint();
      await new Promise<void>((done, fail) => {
        http
          .get({ host: '127.0.0.1', port, path: '/', agent, headers: { [OTHER_HEADER.name]: OTHER_HEADER.value } }, (r) => {
            r.resume();
            r.on('end', () => done());
          })
          .on('error', fail);
      });
      if (i >= 50) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    agent.destroy();
    times.sort((a, b) => a - b);
    say({ p50: times[Math.floor(n * 0.5)], p99: times[Math.floor(n * 0.99)] });
  } else {
    throw new Error(`unknown mode ${mode}: app | agent | rate | latency`);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`serve.ts ${mode}: ${e.message}\n`);
  process.exit(1);
});
