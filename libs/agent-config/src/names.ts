// The names and numbers the injector (manager webhook) and the traffic agent must agree on.
// CLUSTER-FACING: pods injected by one release are read by the agent and manager of the same
// release series; change a name only together with a migration.

/** The sidecar the webhook adds to an intercepted workload's pods. */
export const AGENT_CONTAINER = 'traffic-agent';
/** The init container that redirects numeric target ports to the agent (it alone has NET_ADMIN). */
export const AGENT_INIT_CONTAINER = 'tel-agent-init';
/** First port the agent listens on for a workload's service ports (9900 is the agent's API). */
export const AGENT_FIRST_PORT = 9901;
/**
 * On a workload's pod template while it wants an agent; its value is the hash of the agent
 * config. Setting it is what rolls the pods (the webhook injects into pods that carry it), and
 * removing it rolls them back to a template identical to the one before the first intercept.
 */
export const WORKLOAD_ANNOTATION = 'telepresence.io/agent';
/** Environment of the agent container that is the agent's own, not the app's. */
export const AGENT_ENV_PREFIX = 'TEL_AGENT_';
/** The agent config (JSON) in the agent container's environment. */
export const AGENT_CONFIG_ENV = `${AGENT_ENV_PREFIX}CONFIG`;
/** Numeric port redirects for the init container: "appPort:agentPort,…". */
export const AGENT_REDIRECTS_ENV = `${AGENT_ENV_PREFIX}REDIRECTS`;
/** The node's IP for the init container (downward API status.hostIP): probes come from it. */
export const AGENT_HOST_IP_ENV = `${AGENT_ENV_PREFIX}HOST_IP`;
/** An app port whose name the agent takes over keeps its number under this prefix. */
export const RENAMED_PORT_PREFIX = 'tel-';

/** Kubernetes' IANA_SVC_NAME: ≤ 15 lowercase letters, digits and '-', a letter, no '--', no '-' at an end. */
export function isPortName(s: string): boolean {
  return s.length >= 1 && s.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(s) && /[a-z]/.test(s) && !s.includes('--');
}

/** RFC 6901 reference token. */
export function pointerToken(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Where the agent container finds its projected service-account token for the manager
 * (audience AGENT_TOKEN_AUDIENCE of @tel/contracts agent.ts); the webhook mounts it there.
 */
export const AGENT_TOKEN_DIR = '/var/run/secrets/telepresence.io';
export const AGENT_TOKEN_PATH = `${AGENT_TOKEN_DIR}/token`;
/** The volume carrying it. */
export const AGENT_TOKEN_VOLUME = 'tel-agent-token';

/** The manager's Service (and Deployment) name: the webhook is reached as `<it>.<namespace>.svc`. */
export const MANAGER_SERVICE = 'traffic-manager';
/** HTTPS path of the manager's mutating webhook. */
export const WEBHOOK_PATH = '/inject';
/** Secret (manager namespace) with the webhook's CA and serving certificate; the manager keeps it. */
export const WEBHOOK_TLS_SECRET = 'traffic-manager-webhook-tls';
/** The MutatingWebhookConfiguration of one manager (cluster-scoped, so it names the namespace). */
export function webhookConfigurationName(managerNamespace: string): string {
  return `${MANAGER_SERVICE}-${managerNamespace}`;
}
/** The manager's environment variable naming the image injected agents run (its own image). */
export const AGENT_IMAGE_ENV = 'AGENT_IMAGE';

/**
 * Variables of the agent container that are the agent's own, not the app's (comma-separated
 * names): NODE_OPTIONS, which the agent's Node reads at start. An app's NODE_OPTIONS (`--require`
 * of its own code) would break the agent, so the app's value travels as
 * `${'${AGENT_APP_ENV_PREFIX}'}NODE_OPTIONS` and the agent reports it under its real name.
 */
export const AGENT_OWN_ENV = `${AGENT_ENV_PREFIX}OWN_ENV`;
export const AGENT_APP_ENV_PREFIX = `${AGENT_ENV_PREFIX}APP_`;
/**
 * The agent's Node flags: small young-generation semi-spaces keep its RSS low under many
 * connections (200 keep-alive connections: 80 → 62 MB measured).
 */
export const AGENT_NODE_OPTIONS = '--max-semi-space-size=1';
/** The agent's log level: the manager passes its own on when it injects. */
export const AGENT_LOG_LEVEL_ENV = `${AGENT_ENV_PREFIX}LOG_LEVEL`;
/**
 * Where the agent's own bundle lives in the tel2 image, and the command the webhook gives the
 * agent and init containers: only the agent's code is loaded in every intercepted pod (the
 * manager's bundle, with its Kubernetes client, cost the agent about 50 MB of RSS at start).
 */
export const AGENT_BUNDLE_PATH = '/usr/local/lib/telepresence/traffic-agent.js';
export const AGENT_COMMAND = ['/usr/bin/node', AGENT_BUNDLE_PATH];
/** The manager Service's port for the webhook (the API server calls it there; it maps to MANAGER_WEBHOOK_PORT). */
export const WEBHOOK_SERVICE_PORT = 443;
