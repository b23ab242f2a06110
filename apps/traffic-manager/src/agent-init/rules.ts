// The agent-init role's pure half: what the pod's environment asks for (numeric target ports to
// hand to the agent; in a pod with a service mesh, the mesh proxy's dials to the app's ports),
// where the kubelet's probes come from, and the nft script that redirects.
import { AGENT_HOST_IP_ENV, AGENT_MESH_REDIRECTS_ENV, AGENT_MESH_UID_ENV, AGENT_REDIRECTS_ENV } from '@tel/agent-config';
import { configError } from '@tel/errors';

/** Our own nft table: flushed and rebuilt on every run, so a restarted init container adds nothing twice. */
export const NFT_TABLE = 'telepresence_agent';

export interface Redirect {
  appPort: number;
  agentPort: number;
}

export interface InitPlan {
  /** Inbound connections to these app ports go to the agent (prerouting). */
  redirects: Redirect[];
  /** Sources that keep reaching the app's port itself: the node (probes) and the pod's gateway. */
  exempt: string[];
  /** The mesh proxy's own connections (its UID, over loopback) to these app ports go to the agent. */
  mesh?: { proxyUid: number; redirects: Redirect[] };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function port(s: string, what: string, raw: string, env: string): number {
  const n = /^\d{1,5}$/.test(s) ? Number(s) : NaN;
  if (!(n >= 1 && n <= 65535)) throw configError(`${env}=${JSON.stringify(raw)}: ${what} ${JSON.stringify(s)} is not a port (1-65535)`, `set it to "appPort:agentPort,…", e.g. "8080:9901"`);
  return n;
}

/** `appPort:agentPort,…` (of variable `env`) → redirects; every app port at most once. */
export function parseRedirects(raw: string | undefined, env: string = AGENT_REDIRECTS_ENV): Redirect[] {
  const hint = 'set it to "appPort:agentPort,…", e.g. "8080:9901"';
  if (!raw?.trim()) throw configError(`${env} is not set: nothing to redirect`, hint);
  const out: Redirect[] = [];
  for (const item of raw.split(',')) {
    const parts = item.trim().split(':');
    if (parts.length !== 2) throw configError(`${env}=${JSON.stringify(raw)}: ${JSON.stringify(item)} is not appPort:agentPort`, hint);
    const r = { appPort: port(parts[0]!, 'app port', raw, env), agentPort: port(parts[1]!, 'agent port', raw, env) };
    if (out.some((o) => o.appPort === r.appPort)) throw configError(`${env}=${JSON.stringify(raw)}: app port ${r.appPort} appears twice`, hint);
    out.push(r);
  }
  return out;
}

function parseUid(raw: string | undefined): number {
  const n = raw && /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 0 && n < 2 ** 32)) throw configError(`${AGENT_MESH_UID_ENV}=${JSON.stringify(raw ?? '')} is not a UID`, `set it to the mesh proxy's runAsUser, e.g. "1337"`);
  return n;
}

export function parseHostIp(raw: string | undefined): string {
  if (!raw || !IPV4.test(raw)) throw configError(`${AGENT_HOST_IP_ENV}=${JSON.stringify(raw ?? '')} is not an IPv4 address`, `set it from the downward API: valueFrom.fieldRef.fieldPath status.hostIP`);
  return raw;
}

/** The IPv4 default gateway in /proc/net/route's text (little-endian hex), if there is one. */
export function defaultGateway(procNetRoute: string): string | undefined {
  for (const line of procNetRoute.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Iface Destination Gateway Flags …: the default route has destination 0 and the gateway flag (2).
    if (f.length < 4 || f[1] !== '00000000' || !(parseInt(f[3]!, 16) & 2)) continue;
    const hex = f[2]!;
    if (!/^[0-9A-Fa-f]{8}$/.test(hex) || hex === '00000000') continue;
    return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
  }
  return undefined;
}

export function initPlan(env: NodeJS.ProcessEnv, procNetRoute: string): InitPlan {
  // Behind a mesh every captured port is a mesh redirect, so the plain list may be absent.
  const meshRaw = env[AGENT_MESH_REDIRECTS_ENV];
  const redirects = meshRaw === undefined || env[AGENT_REDIRECTS_ENV] !== undefined ? parseRedirects(env[AGENT_REDIRECTS_ENV]) : [];
  const mesh = meshRaw !== undefined ? { proxyUid: parseUid(env[AGENT_MESH_UID_ENV]), redirects: parseRedirects(meshRaw, AGENT_MESH_REDIRECTS_ENV) } : undefined;
  const hostIp = parseHostIp(env[AGENT_HOST_IP_ENV]);
  const gw = defaultGateway(procNetRoute);
  return { redirects, exempt: [...new Set([hostIp, ...(gw ? [gw] : [])])], ...(mesh ? { mesh } : {}) };
}

/**
 * Our nat chains behind a mesh run before the mesh's own (iptables-nft and legacy iptables nat
 * both sit at dstnat, -100): of several nat chains on one hook the first that maps a connection
 * decides, so the mesh's rules can't undo ours, whichever init container ran first.
 */
export const MESH_NAT_PRIORITY = -110;

/**
 * One nft transaction: create-then-delete our table (so it exists whatever state a previous run
 * left), then build it. Prerouting for inbound connections; connections the pod makes itself (the
 * agent handing a connection to the app on localhost or the pod IP) go through output and reach
 * the app. Behind a mesh, output takes only the proxy's loopback dials (its UID; the agent runs
 * as another), never the proxy's outbound connections to other pods.
 */
export function nftScript(plan: InitPlan): string {
  const lines = [`table ip ${NFT_TABLE}`, `delete table ip ${NFT_TABLE}`, `table ip ${NFT_TABLE} {`];
  if (plan.redirects.length) {
    lines.push(
      '  chain prerouting {',
      '    type nat hook prerouting priority dstnat; policy accept;',
      `    ip saddr { ${plan.exempt.join(', ')} } return`,
      ...plan.redirects.map((r) => `    tcp dport ${r.appPort} redirect to :${r.agentPort}`),
      '  }',
    );
  }
  if (plan.mesh?.redirects.length) {
    lines.push(
      '  chain output {',
      `    type nat hook output priority ${MESH_NAT_PRIORITY}; policy accept;`,
      ...plan.mesh.redirects.map((r) => `    meta skuid ${plan.mesh!.proxyUid} oifname "lo" tcp dport ${r.appPort} redirect to :${r.agentPort}`),
      '  }',
    );
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
