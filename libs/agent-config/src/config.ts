// Which ports of a workload can be intercepted, and the agent config the manager stores for a
// workload that wants an agent: pure functions of the pod template and the Services, shared by
// the manager (intercept, `list`) and the webhook (injection).
import { createHash } from 'node:crypto';
import type { V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import { AgentConfigError } from './errors.js';
import { ISTIO_PROXY_CONTAINER, meshHiddenMessage, meshOf } from './mesh.js';
import { AGENT_CONTAINER, AGENT_FIRST_PORT } from './names.js';

export type WorkloadKind = 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'Rollout';

/** One Service port that reaches the workload's pods, and where in the pod it lands. */
export interface InterceptablePort {
  service: string;
  servicePort: number;
  /** The Service port's name, when it has one (`--port 8080:http`). */
  servicePortName?: string;
  /** The Service port's appProtocol, when set (decides whether a personal intercept's HTTP filter can apply). */
  appProtocol?: string;
  protocol: 'TCP';
  /** The app container the traffic goes to. */
  container: string;
  /** The port the app listens on inside the pod. */
  appPort: number;
  /** Set when the Service's targetPort is a port name: the agent takes the name over. */
  targetPortName?: string;
  /**
   * Set when the pods' service mesh keeps this port from its proxy (why, in words): the agent
   * sits behind the proxy, so such a port can't be intercepted. Never part of the agent config.
   */
  meshHidden?: string;
}

/** What the agent of one workload serves: each intercepted app port gets an agent port. */
export interface AgentConfig {
  /** Bumped only with a migration: injected pods of one release series are read by its agents. */
  version: 1;
  workload: { kind: WorkloadKind; name: string; namespace: string };
  /** tel2:<version>, run in its agent role. */
  image: string;
  /** Where agents reach the manager inside the cluster. */
  manager: { namespace: string; port: number };
  ports: (InterceptablePort & { agentPort: number })[];
}

/** A port that does not reach the pods as an intercept needs it, and why. */
export interface PortProblem {
  service: string;
  servicePort: number;
  message: string;
}

/** Labels `selector` matches `labels` (a Service without selector matches nothing). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** The Services (of the workload's namespace) whose selector matches the pod template. */
export function servicesOf(template: V1PodTemplateSpec, services: V1Service[]): V1Service[] {
  return services.filter((s) => s.spec?.type !== 'ExternalName' && selects(s.spec?.selector, template.metadata?.labels));
}

/**
 * Where each Service port lands in the pod: a named targetPort names a container port; a number
 * (or no targetPort: the port itself) is the app's port in the container that declares it, or in
 * the only container when none declares it (declaring ports is optional in Kubernetes).
 */
export function interceptablePorts(template: V1PodTemplateSpec, services: V1Service[]): { ports: InterceptablePort[]; problems: PortProblem[] } {
  const mesh = meshOf(template.metadata, template.spec);
  // The mesh's proxy is no app: a numeric port of a pod whose one app container declares no ports
  // is still that container's.
  const containers = (template.spec?.containers ?? []).filter((c) => c.name !== AGENT_CONTAINER && !(mesh && c.name === ISTIO_PROXY_CONTAINER));
  const ports: InterceptablePort[] = [];
  const problems: PortProblem[] = [];
  const push = (p: InterceptablePort) => {
    const hidden = mesh?.inboundHides(p.appPort);
    ports.push(hidden ? { ...p, meshHidden: hidden } : p);
  };
  for (const svc of servicesOf(template, services)) {
    const service = svc.metadata?.name ?? '';
    for (const sp of svc.spec?.ports ?? []) {
      const problem = (message: string) => problems.push({ service, servicePort: sp.port, message });
      if ((sp.protocol ?? 'TCP') !== 'TCP') {
        problem(`${sp.protocol} ports can't be intercepted yet (TCP only)`);
        continue;
      }
      const target = sp.targetPort ?? sp.port;
      const base = { service, servicePort: sp.port, ...(sp.name ? { servicePortName: sp.name } : {}), ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}), protocol: 'TCP' as const };
      if (typeof target === 'string' && !/^\d+$/.test(target)) {
        const owner = containers.find((c) => c.ports?.some((p) => p.name === target));
        const cp = owner?.ports?.find((p) => p.name === target);
        if (!owner || !cp) problem(`targetPort "${target}" names no container port of the pods`);
        else push({ ...base, container: owner.name, appPort: cp.containerPort, targetPortName: target });
        continue;
      }
      const n = Number(target);
      const owners = containers.filter((c) => c.ports?.some((p) => p.containerPort === n && (p.protocol ?? 'TCP') === 'TCP'));
      if (owners.length === 1) push({ ...base, container: owners[0]!.name, appPort: n });
      else if (owners.length === 0 && containers.length === 1) push({ ...base, container: containers[0]!.name, appPort: n });
      else problem(owners.length ? `containers ${owners.map((c) => c.name).join(', ')} all declare port ${n}` : `no container declares port ${n} and the pod has ${containers.length} containers`);
    }
  }
  return { ports, problems };
}

/** Why the pods of a template can't get an agent at all (undefined: they can). */
export function notInterceptable(template: V1PodTemplateSpec, services: V1Service[]): AgentConfigError | undefined {
  if (template.spec?.hostNetwork) {
    return new AgentConfigError('host-network', 'its pods use hostNetwork: they share the node\'s ports, so no agent can take one over', 'intercept a workload that runs in its own pod network');
  }
  if ((template.spec?.containers ?? []).some((c) => c.name === AGENT_CONTAINER)) {
    return new AgentConfigError('container-name-taken', `its pods already have a container named ${AGENT_CONTAINER}`, `rename that container; ${AGENT_CONTAINER} is the traffic agent's name`);
  }
  if (servicesOf(template, services).length === 0) {
    return new AgentConfigError('no-service', 'no Service selects its pods', 'create a Service whose selector matches the pod template\'s labels');
  }
  const { ports, problems } = interceptablePorts(template, services);
  if (ports.length === 0) {
    return new AgentConfigError('no-ports', `no Service port reaches its pods${problems.length ? `: ${problems.map((p) => `${p.service}:${p.servicePort} ${p.message}`).join('; ')}` : ''}`, 'give a Service a TCP port whose targetPort is a port of the pods');
  }
  return undefined;
}

/**
 * The agent config for a workload whose listed ports are wanted: each distinct app port gets one
 * agent port, in a stable order (so the same intercepts give the same config and hash).
 */
export function agentConfig(opts: {
  workload: AgentConfig['workload'];
  image: string;
  manager: AgentConfig['manager'];
  ports: InterceptablePort[];
}): AgentConfig {
  const key = (p: InterceptablePort) => `${p.container}/${p.appPort}`;
  const distinct = [...new Map(opts.ports.map((p) => [`${p.service}/${p.servicePort}`, p] as const)).values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.service < b.service ? -1 : a.servicePort - b.servicePort));
  const agentPorts = new Map<string, number>();
  for (const p of distinct) if (!agentPorts.has(key(p))) agentPorts.set(key(p), AGENT_FIRST_PORT + agentPorts.size);
  return {
    version: 1,
    workload: opts.workload,
    image: opts.image,
    manager: opts.manager,
    // meshHidden stays out: the manager computes the config from the template and the webhook from
    // the pod, and a mesh injected by its own webhook is only in the pod; the hashes must agree.
    ports: distinct.map(({ meshHidden: _hidden, ...p }) => ({ ...p, agentPort: agentPorts.get(key(p))! })),
  };
}

/** Short stable hash of a config: the template annotation's value (a new config rolls the pods). */
export function configHash(config: AgentConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The Service port a user means by `--port LOCAL:SVCPORT|:PORTNAME` (or the only one). */
export function pickServicePort(ports: InterceptablePort[], want: { service?: string; port?: number | string }): InterceptablePort | string {
  let candidates = want.service ? ports.filter((p) => p.service === want.service) : ports;
  if (want.service && candidates.length === 0) return `service ${want.service} has no port that reaches the workload's pods`;
  if (want.port !== undefined) {
    const w = want.port;
    candidates = candidates.filter((p) => (typeof w === 'number' ? p.servicePort === w : p.servicePortName === w));
    if (candidates.length === 0) return `no Service port ${w} reaches the workload's pods (ports: ${describePorts(want.service ? ports.filter((p) => p.service === want.service) : ports)})`;
  }
  if (candidates.length > 1) return `more than one Service port reaches the workload's pods (${describePorts(candidates)}): name one with --port LOCAL:PORT${want.service ? '' : ' or --service'}`;
  const picked = candidates[0];
  if (picked?.meshHidden) return meshHiddenMessage(picked, picked.meshHidden);
  return picked ?? 'no Service port reaches the workload\'s pods';
}

function describePorts(ports: InterceptablePort[]): string {
  return ports.map((p: InterceptablePort) => `${p.service}:${p.servicePortName ?? p.servicePort}`).join(', ') || 'none';
}
