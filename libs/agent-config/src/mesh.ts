// An Istio-style service mesh as the traffic agent meets it in a pod: an init container redirects
// the pod's inbound TCP to the mesh proxy (which in a real mesh terminates mTLS), and the proxy,
// running as a UID the redirect leaves alone, dials the app's original port on the pod's loopback.
// The agent must sit behind the proxy, so what matters is which UID the proxy dials as and which
// inbound ports the mesh captures at all. Read from the pod (or template) alone.
import type { V1Container, V1ObjectMeta, V1PodSpec } from '@kubernetes/client-node';
import { AGENT_ENV_PREFIX } from './names.js';

/** Istio's names, as its injector (or `istioctl kube-inject`) writes them into a pod. */
export const ISTIO_PROXY_CONTAINER = 'istio-proxy';
export const ISTIO_INIT_CONTAINER = 'istio-init';
export const ISTIO_STATUS_ANNOTATION = 'sidecar.istio.io/status';
export const ISTIO_INTERCEPTION_MODE_ANNOTATION = 'sidecar.istio.io/interceptionMode';
export const ISTIO_INCLUDE_INBOUND_ANNOTATION = 'traffic.sidecar.istio.io/includeInboundPorts';
export const ISTIO_EXCLUDE_INBOUND_ANNOTATION = 'traffic.sidecar.istio.io/excludeInboundPorts';
/** The proxy's UID when its container does not say (Istio's default). */
export const ISTIO_DEFAULT_PROXY_UID = 1337;

/** For the init container: "appPort:agentPort,…" to take from the mesh proxy's loopback dials. */
export const AGENT_MESH_REDIRECTS_ENV = `${AGENT_ENV_PREFIX}MESH_REDIRECTS`;
/** For the init container: the UID the mesh proxy dials the app as. */
export const AGENT_MESH_UID_ENV = `${AGENT_ENV_PREFIX}MESH_UID`;

export interface Mesh {
  kind: 'istio';
  /** The UID the proxy runs (and dials the app) as; the capture leaves its connections alone. */
  proxyUid: number;
  /**
   * Why the mesh does not capture inbound TCP to `port` (that traffic never passes the proxy the
   * agent sits behind), or undefined when it does.
   */
  inboundHides(port: number): string | undefined;
}

type Containers = Pick<V1Container, 'name' | 'args' | 'command' | 'securityContext'>[];

/** `-u 1337`, `-u=1337` or `--proxy-uid 1337` in istio-iptables' arguments. */
function initArg(args: string[], short: string, long: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    for (const f of [`-${short}`, `--${long}`]) {
      if (a === f) return args[i + 1] ?? '';
      if (a.startsWith(`${f}=`)) return a.slice(f.length + 1);
    }
  }
  return undefined;
}

function portList(s: string): number[] {
  return s
    .split(',')
    .map((p) => p.trim())
    .filter((p) => /^\d+$/.test(p))
    .map(Number);
}

/**
 * The pod's mesh, if it has one in the traffic path: Istio's proxy container (a container or a
 * native sidecar), its init container or its status annotation; interception mode NONE captures
 * nothing, so then the agent works as without a mesh.
 */
export function meshOf(metadata: V1ObjectMeta | undefined, spec: V1PodSpec | undefined): Mesh | undefined {
  const annotations = metadata?.annotations ?? {};
  const all: Containers = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  const proxy = all.find((c) => c.name === ISTIO_PROXY_CONTAINER);
  const init = spec?.initContainers?.find((c) => c.name === ISTIO_INIT_CONTAINER);
  if (!proxy && !init && annotations[ISTIO_STATUS_ANNOTATION] === undefined) return undefined;
  if (annotations[ISTIO_INTERCEPTION_MODE_ANNOTATION] === 'NONE') return undefined;
  const args = init ? [...(init.command ?? []), ...(init.args ?? [])] : [];
  const uidArg = initArg(args, 'u', 'proxy-uid');
  const proxyUid = uidArg && /^\d+$/.test(uidArg) ? Number(uidArg) : proxy?.securityContext?.runAsUser ?? ISTIO_DEFAULT_PROXY_UID;
  // What istio-init was told wins (it is what the pod's rules say); without it (Istio's CNI
  // plugin) the annotations are what the plugin reads.
  const includeArg = initArg(args, 'b', 'inbound-ports-include');
  const excludeArg = initArg(args, 'd', 'inbound-ports-exclude');
  const include = includeArg !== undefined ? { value: includeArg, from: `${ISTIO_INIT_CONTAINER}'s -b` } : { value: annotations[ISTIO_INCLUDE_INBOUND_ANNOTATION] ?? '*', from: ISTIO_INCLUDE_INBOUND_ANNOTATION };
  const exclude = excludeArg !== undefined ? { value: excludeArg, from: `${ISTIO_INIT_CONTAINER}'s -d` } : { value: annotations[ISTIO_EXCLUDE_INBOUND_ANNOTATION] ?? '', from: ISTIO_EXCLUDE_INBOUND_ANNOTATION };
  // Name the annotation a user sets, also when the init container's argument derives from it.
  const said = (what: { value: string; from: string }, annotation: string) =>
    annotations[annotation] !== undefined ? `${annotation}="${annotations[annotation]}"` : `${what.from} "${what.value}"`;
  return {
    kind: 'istio',
    proxyUid,
    inboundHides(port) {
      if (include.value.trim() !== '*') {
        if (!portList(include.value).includes(port)) return `${said(include, ISTIO_INCLUDE_INBOUND_ANNOTATION)} does not list ${port}`;
        return undefined;
      }
      if (portList(exclude.value).includes(port)) return `${said(exclude, ISTIO_EXCLUDE_INBOUND_ANNOTATION)} lists ${port}`;
      return undefined;
    },
  };
}

/** The one-line refusal for an intercept of a port the mesh keeps away from its proxy. */
export function meshHiddenMessage(p: { service: string; servicePort: number; appPort: number }, why: string): string {
  return `port ${p.service}:${p.servicePort} (pod port ${p.appPort}) bypasses the service mesh's proxy, which the traffic agent sits behind: ${why}; let the mesh capture port ${p.appPort} to intercept it`;
}
