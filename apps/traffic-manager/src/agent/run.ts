// Wires the agent role of the cluster image (the traffic-agent container the manager's webhook
// adds to an intercepted workload's pods): settings from the environment, the API port, the data
// ports, the control loop with the manager; SIGTERM lets open connections finish.
import { managerAddress } from './manager-address.js';
import { createLogger, parseLevel, type Logger } from '@tel/logging';
import { formatError, toErrorInfo } from '@tel/errors';
import { buildVersion } from '@tel/version';
import { startAgentApi, AGENT_NAME, type AgentApiServer } from './api.js';
import { ControlLoop } from './control.js';
import { startDataListeners, type DataListeners } from './listeners.js';
import { AgentManagerClient } from './manager-client.js';
import { AGENT_ENV, appEnvironment, parseAgentEnv, type AgentSettings } from './settings.js';

/** How long SIGTERM waits for open connections before ending them. */
const SHUTDOWN_GRACE_MS = 5_000;
const STATS_INTERVAL_MS = 300_000;

export interface AgentOptions {
  log: Logger;
  /** The app container, reached on the pod's loopback. */
  appHost?: string;
  /** Where the data ports and the API listen (the pod network: all addresses). */
  listenHost?: string;
  pingIntervalMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  okTimeoutMs?: number;
}

export interface RunningAgent {
  control: ControlLoop;
  data: DataListeners;
  api: AgentApiServer;
  /** Stops accepting and talking to the manager, lets open connections finish up to `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/** Starts everything for `settings`; `env` is the container's environment (the app's is reported). */
export async function startAgent(settings: AgentSettings, env: NodeJS.ProcessEnv, opts: AgentOptions): Promise<RunningAgent> {
  const { log } = opts;
  // 1. The API port first: it is what says "this agent runs" to anyone checking versions.
  const api = await startAgentApi(settings.apiPort, opts.listenHost);
  // 2. The control loop: until its first watch event every connection goes to the app.
  const client = new AgentManagerClient({ host: settings.managerHost, port: settings.managerPort, ...(opts.pingIntervalMs ? { pingIntervalMs: opts.pingIntervalMs } : {}) });
  const { config, pod } = settings;
  const control = new ControlLoop({
    client,
    tokenPath: settings.tokenPath,
    log: log.child('control'),
    arriveRequest: {
      pod: pod.name,
      podIp: pod.ip,
      namespace: pod.namespace,
      workload: { kind: config.workload.kind, name: config.workload.name },
      version: buildVersion,
      configHash: settings.configHash,
      environment: appEnvironment(env),
    },
    ...(opts.minBackoffMs !== undefined ? { minBackoffMs: opts.minBackoffMs } : {}),
    ...(opts.maxBackoffMs !== undefined ? { maxBackoffMs: opts.maxBackoffMs } : {}),
  });
  // 3. The data ports, which dial the manager by address (resolved here, not per connection).
  const address = managerAddress(settings.managerHost, log);
  let data: DataListeners;
  try {
    data = await startDataListeners({
      ports: settings.ports,
      ...(opts.listenHost ? { host: opts.listenHost } : {}),
      managerHost: () => address.get(),
      tunnelPort: settings.tunnelPort,
      appHost: opts.appHost ?? '127.0.0.1',
      routeFor: (agentPort) => control.routeFor(agentPort),
      log,
      ...(opts.okTimeoutMs !== undefined ? { okTimeoutMs: opts.okTimeoutMs } : {}),
    });
  } catch (err) {
    await api.close();
    throw err;
  }
  control.start();
  let closing: Promise<void> | undefined;
  return {
    control,
    data,
    api,
    close: (graceMs = SHUTDOWN_GRACE_MS) =>
      (closing ??= (async () => {
        // New connections are refused from here; open ones (intercepted too) may finish.
        address.stop();
        const draining = data.close(graceMs);
        await control.stop();
        await Promise.all([draining, api.close()]);
      })()),
  };
}

/** The agent role: runs until SIGTERM (exit 0); bad settings are one line on stderr and exit 1. */
export async function runAgent(env: NodeJS.ProcessEnv): Promise<void> {
  const log = createLogger('agent', { level: parseLevel(env[AGENT_ENV.logLevel]), stream: process.stdout });
  let agent: RunningAgent;
  let settings: AgentSettings;
  try {
    settings = parseAgentEnv(env);
    agent = await startAgent(settings, env, { log });
  } catch (err) {
    process.stderr.write(`traffic-agent: ${formatError({ ...toErrorInfo(err), category: 'config' })}\n`);
    process.exit(1);
  }
  const { workload } = settings.config;
  log.info(`${AGENT_NAME} ${buildVersion} for ${workload.kind} ${workload.namespace}/${workload.name} in pod ${settings.pod.name}: API on :${agent.api.port}, agent ports ${[...settings.ports].map(([a, p]) => `${a}→${p}`).join(', ')}, manager ${settings.managerHost}:${settings.managerPort}`);
  const stats = setInterval(() => log.info('stats', { ...agent.data.stats(), intercepts: agent.control.interceptCount, arrives: agent.control.arrives, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) }), STATS_INTERVAL_MS);
  stats.unref();
  const stop = () => {
    log.info('shutting down');
    clearInterval(stats);
    void agent.close(SHUTDOWN_GRACE_MS).finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
