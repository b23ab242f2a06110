// The traffic agent's settings, read once at start from the environment the webhook gave its
// container (@tel/agent-config pod-patch.ts): the agent config, the pod's identity, where the
// manager is. Every bad value is one line naming the variable and what to do.
import { AGENT_API_PORT, MANAGER_AGENT_PORT, MANAGER_AGENT_TUNNEL_PORT } from '@tel/contracts';
import { AGENT_LOG_LEVEL_ENV, AGENT_APP_ENV_PREFIX, AGENT_CONFIG_ENV, AGENT_ENV_PREFIX, AGENT_OWN_ENV, AGENT_TOKEN_PATH, configHash, type AgentConfig } from '@tel/agent-config';
import { configError } from '@tel/errors';

export interface AgentSettings {
  config: AgentConfig;
  configHash: string;
  pod: { name: string; ip: string; namespace: string };
  /** The manager's in-cluster name (its Service), for control calls and the data tunnel. */
  managerHost: string;
  managerPort: number;
  tunnelPort: number;
  apiPort: number;
  tokenPath: string;
  /** Each distinct agent port and the app port its un-intercepted connections go to. */
  ports: Map<number, number>;
}

/** Overrides, all under the agent's own prefix (so they never reach the app's environment report). */
export const AGENT_ENV = {
  podName: `${AGENT_ENV_PREFIX}POD_NAME`,
  podIp: `${AGENT_ENV_PREFIX}POD_IP`,
  namespace: `${AGENT_ENV_PREFIX}NAMESPACE`,
  managerHost: `${AGENT_ENV_PREFIX}MANAGER_HOST`,
  managerPort: `${AGENT_ENV_PREFIX}MANAGER_PORT`,
  tunnelPort: `${AGENT_ENV_PREFIX}TUNNEL_PORT`,
  apiPort: `${AGENT_ENV_PREFIX}API_PORT`,
  tokenPath: `${AGENT_ENV_PREFIX}TOKEN_PATH`,
  /** error | warn | info (default) | debug: the manager's webhook may pass its own level on. */
  logLevel: AGENT_LOG_LEVEL_ENV,
  /** The agent's own variables (AGENT_OWN_ENV of @tel/agent-config). */
  ownEnv: AGENT_OWN_ENV,
} as const;
/** The app's values of the variables the agent has its own of. */
export const APP_ENV_PREFIX = AGENT_APP_ENV_PREFIX;

const WORKLOAD_KINDS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'Rollout']);
const REINJECT = 'the pod was injected by another release: remove the intercept and intercept again';

const bad = (what: string, hint = REINJECT) => configError(what, hint);

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}
function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

function portEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !isPort(n)) throw bad(`${name}=${JSON.stringify(raw)} is not a port number`, `set ${name} to a number from 1 to 65535 or unset it`);
  return n;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw bad(`${name} is not set`, 'the webhook sets it from the downward API; run the agent only as the injected traffic-agent container');
  return v;
}

/** Parses and checks TEL_AGENT_CONFIG (an AgentConfig, JSON) or throws one line saying what is wrong. */
export function parseAgentConfig(raw: string | undefined): AgentConfig {
  if (!raw) throw bad(`${AGENT_CONFIG_ENV} is not set`, 'the webhook sets it; run the agent only as the injected traffic-agent container');
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw bad(`${AGENT_CONFIG_ENV} is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const where = (field: string, want: string) => bad(`${AGENT_CONFIG_ENV}: ${field} must be ${want}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw where('the value', 'a JSON object');
  const c = v as Partial<AgentConfig>;
  if (c.version !== 1) throw where('version', `1 (got ${JSON.stringify(c.version)})`);
  const w = c.workload;
  if (!w || !WORKLOAD_KINDS.has(w.kind as string) || !isName(w.name) || !isName(w.namespace)) throw where('workload', 'an object with kind (Deployment, ReplicaSet, StatefulSet or Rollout), name and namespace');
  if (!c.manager || !isName(c.manager.namespace)) throw where('manager.namespace', 'a namespace name');
  if (!Array.isArray(c.ports) || c.ports.length === 0) throw where('ports', 'a non-empty list');
  const appOf = new Map<number, number>();
  c.ports.forEach((p, i) => {
    if (!p || typeof p !== 'object') throw where(`ports[${i}]`, 'an object');
    if (!isPort(p.agentPort)) throw where(`ports[${i}].agentPort`, `a port number (got ${JSON.stringify(p.agentPort)})`);
    if (!isPort(p.appPort)) throw where(`ports[${i}].appPort`, `a port number (got ${JSON.stringify(p.appPort)})`);
    const seen = appOf.get(p.agentPort);
    if (seen !== undefined && seen !== p.appPort) throw where(`ports[${i}]`, `consistent: agent port ${p.agentPort} is given app ports ${seen} and ${p.appPort}`);
    appOf.set(p.agentPort, p.appPort);
  });
  return c as AgentConfig;
}

/** All settings from the agent container's environment; throws a config TelError (one line). */
export function parseAgentEnv(env: NodeJS.ProcessEnv): AgentSettings {
  const config = parseAgentConfig(env[AGENT_CONFIG_ENV]);
  const pod = { name: required(env, AGENT_ENV.podName), ip: required(env, AGENT_ENV.podIp), namespace: required(env, AGENT_ENV.namespace) };
  return {
    config,
    configHash: configHash(config),
    pod,
    managerHost: env[AGENT_ENV.managerHost] || `traffic-manager.${config.manager.namespace}`,
    managerPort: portEnv(env, AGENT_ENV.managerPort, MANAGER_AGENT_PORT),
    tunnelPort: portEnv(env, AGENT_ENV.tunnelPort, MANAGER_AGENT_TUNNEL_PORT),
    apiPort: portEnv(env, AGENT_ENV.apiPort, AGENT_API_PORT),
    tokenPath: env[AGENT_ENV.tokenPath] || AGENT_TOKEN_PATH,
    ports: new Map(config.ports.map((p) => [p.agentPort, p.appPort] as const)),
  };
}

/**
 * The app container's environment: the webhook copied its env and envFrom into the agent
 * container, so the kubelet resolved the same values here. The agent's own variables are left
 * out (TEL_AGENT_* and those named in TEL_AGENT_OWN_ENV); the app's values of those the agent has
 * its own of come back from TEL_AGENT_APP_<NAME>.
 */
export function appEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const own = new Set((env[AGENT_ENV.ownEnv] ?? '').split(',').map((s) => s.trim()));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith(AGENT_ENV_PREFIX) && !own.has(k)) out[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined && k.startsWith(APP_ENV_PREFIX) && k.length > APP_ENV_PREFIX.length) out[k.slice(APP_ENV_PREFIX.length)] = v;
  return out;
}
