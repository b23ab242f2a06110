// What the manager's mutating webhook does to a pod of a workload that wants an agent, as a JSON
// patch (RFC 6902) on the Pod: add the traffic-agent container (the app container's environment
// copied, so the kubelet resolves ConfigMap, Secret and downward-API values exactly as for the
// app), give it the port names it takes over, and an init container that redirects numeric target
// ports. In a pod with an Istio-style mesh the agent sits behind the mesh's proxy instead: the init
// container hands it the proxy's loopback dials to the app's ports, named or numeric, and no port
// is renamed. The pod template itself is never changed here.
import type { V1Container, V1ContainerPort, V1EnvVar, V1Pod, V1Volume } from '@kubernetes/client-node';
import { AGENT_TOKEN_AUDIENCE } from '@tel/contracts';
import type { AgentConfig } from './config.js';
import { AgentConfigError } from './errors.js';
import { AGENT_MESH_REDIRECTS_ENV, AGENT_MESH_UID_ENV, meshOf } from './mesh.js';
import {
  AGENT_APP_ENV_PREFIX,
  AGENT_COMMAND,
  AGENT_CONFIG_ENV,
  AGENT_NODE_OPTIONS,
  AGENT_OWN_ENV,
  AGENT_CONTAINER,
  AGENT_ENV_PREFIX,
  AGENT_HOST_IP_ENV,
  AGENT_INIT_CONTAINER,
  AGENT_LOG_LEVEL_ENV,
  AGENT_REDIRECTS_ENV,
  AGENT_TOKEN_DIR,
  AGENT_TOKEN_PATH,
  AGENT_TOKEN_VOLUME,
  RENAMED_PORT_PREFIX,
  isPortName,
  pointerToken,
} from './names.js';

/** Lifetime of the agent's projected token; the kubelet refreshes it at 80 % of that. */
export const AGENT_TOKEN_EXPIRATION_SECONDS = 3600;

/**
 * The agent's own service-account token for the manager: minted by the kubelet for
 * AGENT_TOKEN_AUDIENCE only (useless against the API server), bound to the pod, mounted into the
 * agent container alone (the app never sees it).
 */
function agentTokenVolume(): V1Volume {
  return {
    name: AGENT_TOKEN_VOLUME,
    projected: { sources: [{ serviceAccountToken: { audience: AGENT_TOKEN_AUDIENCE, expirationSeconds: AGENT_TOKEN_EXPIRATION_SECONDS, path: AGENT_TOKEN_PATH.slice(AGENT_TOKEN_DIR.length + 1) } }] },
  };
}

export type JsonPatchOp = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string } | { op: 'test'; path: string; value: unknown };

/** The agent's own environment: where it is, and what it serves. */
function agentEnv(config: AgentConfig): V1EnvVar[] {
  const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
  return [
    { name: AGENT_CONFIG_ENV, value: JSON.stringify(config) },
    { name: 'NODE_OPTIONS', value: AGENT_NODE_OPTIONS },
    { name: AGENT_OWN_ENV, value: 'NODE_OPTIONS' },
    { name: `${AGENT_ENV_PREFIX}POD_NAME`, ...field('metadata.name') },
    { name: `${AGENT_ENV_PREFIX}POD_IP`, ...field('status.podIP') },
    { name: `${AGENT_ENV_PREFIX}NAMESPACE`, ...field('metadata.namespace') },
  ];
}

/**
 * The app's environment for the agent container: as written for the app container, with
 * resourceFieldRef pinned to the app container (left empty it would mean the agent's resources).
 */
function copiedEnv(app: V1Container): V1EnvVar[] {
  return (app.env ?? []).map((e) => {
    if (e.name === 'NODE_OPTIONS') return { ...e, name: `${AGENT_APP_ENV_PREFIX}NODE_OPTIONS` };
    const rf = e.valueFrom?.resourceFieldRef;
    if (!rf || rf.containerName) return e;
    return { ...e, valueFrom: { ...e.valueFrom, resourceFieldRef: { ...rf, containerName: app.name } } };
  });
}

/**
 * The patch for one pod. Throws AgentConfigError when the pod can't take the agent (the webhook
 * then leaves it unchanged and the manager reports why); never returns a partial patch.
 */
export function agentPodPatch(pod: V1Pod, config: AgentConfig, opts: { logLevel?: string } = {}): JsonPatchOp[] {
  const spec = pod.spec;
  const containers = spec?.containers ?? [];
  if (spec?.hostNetwork) throw new AgentConfigError('host-network', 'the pod uses hostNetwork', 'intercept a workload that runs in its own pod network');
  if (containers.some((c) => c.name === AGENT_CONTAINER) || spec?.initContainers?.some((c) => c.name === AGENT_INIT_CONTAINER)) {
    throw new AgentConfigError('container-name-taken', `the pod already has a container named ${AGENT_CONTAINER} or ${AGENT_INIT_CONTAINER}`, 'rename that container');
  }
  if (spec?.volumes?.some((v) => v.name === AGENT_TOKEN_VOLUME)) {
    throw new AgentConfigError('container-name-taken', `the pod already has a volume named ${AGENT_TOKEN_VOLUME}`, `rename that volume; ${AGENT_TOKEN_VOLUME} is the traffic agent's`);
  }
  const ops: JsonPatchOp[] = [];
  const agentPorts = new Map<number, V1ContainerPort>();
  const redirects: string[] = [];
  const meshRedirects: string[] = [];
  const mesh = meshOf(pod.metadata, spec);
  // The agent's own dials to the app must not look like the proxy's, or they would come back to it.
  if (mesh && spec?.securityContext?.runAsUser === mesh.proxyUid) {
    throw new AgentConfigError('mesh-proxy-uid', `the pod runs as UID ${mesh.proxyUid}, the service mesh proxy's, which the traffic agent can't tell apart from the proxy`, `run the pod's containers as another UID (runAsUser in the pod's securityContext) and only the mesh proxy as ${mesh.proxyUid}`);
  }
  const appIndex = (name: string) => {
    const i = containers.findIndex((c) => c.name === name);
    if (i < 0) throw new AgentConfigError('no-ports', `the pod has no container ${name}`, 'the workload changed since the intercept was made: intercept it again');
    return i;
  };
  const renamed = new Set<string>();
  for (const p of config.ports) {
    const ci = appIndex(p.container);
    // Behind the mesh's proxy: inbound traffic reaches the app as the proxy's dial to
    // 127.0.0.1:appPort (a named port keeps its name: the Service keeps targeting the app's port,
    // which the mesh captures). A port the mesh does not capture comes in directly, as without one.
    if (mesh && !mesh.inboundHides(p.appPort)) {
      if (!agentPorts.has(p.agentPort)) agentPorts.set(p.agentPort, { containerPort: p.agentPort, protocol: 'TCP' });
      const r = `${p.appPort}:${p.agentPort}`;
      if (!meshRedirects.includes(r)) meshRedirects.push(r);
      continue;
    }
    if (p.targetPortName) {
      // The agent takes over the name: the Service's targetPort then resolves to the agent. The
      // app's port keeps its number under a new name (probes by name keep working through it).
      const pi = (containers[ci]!.ports ?? []).findIndex((cp) => cp.name === p.targetPortName);
      if (pi < 0) throw new AgentConfigError('no-ports', `container ${p.container} has no port named ${p.targetPortName}`, 'the workload changed since the intercept was made: intercept it again');
      const newName = `${RENAMED_PORT_PREFIX}${p.targetPortName}`;
      if (!isPortName(newName)) {
        throw new AgentConfigError('port-name-too-long', `port name ${p.targetPortName} is too long to keep the app's port as ${newName} (15 characters at most)`, `shorten the port name to ${15 - RENAMED_PORT_PREFIX.length} characters or fewer`);
      }
      if (containers.some((c) => c.ports?.some((cp) => cp.name === newName))) {
        throw new AgentConfigError('port-name-taken', `a container already has a port named ${newName}`, `rename that port; ${RENAMED_PORT_PREFIX}* names are the traffic agent's`);
      }
      if (!renamed.has(p.targetPortName)) {
        renamed.add(p.targetPortName);
        ops.push({ op: 'replace', path: `/spec/containers/${ci}/ports/${pi}/name`, value: newName });
        ops.push(...probeRenames(containers[ci]!, ci, p.targetPortName, newName));
      }
      agentPorts.set(p.agentPort, { name: p.targetPortName, containerPort: p.agentPort, protocol: 'TCP' });
    } else {
      if (!agentPorts.has(p.agentPort)) agentPorts.set(p.agentPort, { containerPort: p.agentPort, protocol: 'TCP' });
      const r = `${p.appPort}:${p.agentPort}`;
      if (!redirects.includes(r)) redirects.push(r);
    }
  }
  const app = containers[appIndex(config.ports[0]?.container ?? '')]!;
  const taken = (app.env ?? []).find((e) => e.name.startsWith(AGENT_ENV_PREFIX));
  if (taken) throw new AgentConfigError('env-name-taken', `container ${app.name} has an environment variable ${taken.name}`, `rename it; ${AGENT_ENV_PREFIX}* variables are the traffic agent's`);
  const agent: V1Container = {
    name: AGENT_CONTAINER,
    image: config.image,
    command: AGENT_COMMAND,
    args: ['agent'],
    // The manager's log level rides outside the config: changing it must not roll anyone's pods.
    env: [...copiedEnv(app), ...agentEnv(config), ...(opts.logLevel ? [{ name: AGENT_LOG_LEVEL_ENV, value: opts.logLevel }] : [])],
    ...(app.envFrom?.length ? { envFrom: app.envFrom } : {}),
    ports: [...agentPorts.values()],
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '256Mi' } },
    volumeMounts: [{ name: AGENT_TOKEN_VOLUME, mountPath: AGENT_TOKEN_DIR, readOnly: true }],
  };
  // No readiness probe: the agent listens before it does anything else, and the app container's
  // own probe already decides whether the pod may get traffic.
  ops.push({ op: 'add', path: '/spec/containers/-', value: agent });
  ops.push(spec?.volumes ? { op: 'add', path: '/spec/volumes/-', value: agentTokenVolume() } : { op: 'add', path: '/spec/volumes', value: [agentTokenVolume()] });
  if (redirects.length || meshRedirects.length) {
    const init: V1Container = {
      name: AGENT_INIT_CONTAINER,
      image: config.image,
      command: AGENT_COMMAND,
      args: ['agent-init'],
      // The node's address: the kubelet's probes come from it and must keep reaching the app.
      env: [
        ...(redirects.length ? [{ name: AGENT_REDIRECTS_ENV, value: redirects.join(',') }] : []),
        ...(mesh && meshRedirects.length ? [{ name: AGENT_MESH_REDIRECTS_ENV, value: meshRedirects.join(',') }, { name: AGENT_MESH_UID_ENV, value: String(mesh.proxyUid) }] : []),
        { name: AGENT_HOST_IP_ENV, valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
      ],
      // Only this container may change the pod's packet filter; the app keeps its own context.
      securityContext: { runAsUser: 0, runAsNonRoot: false, capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] } },
    };
    ops.push(spec?.initContainers ? { op: 'add', path: '/spec/initContainers/-', value: init } : { op: 'add', path: '/spec/initContainers', value: [init] });
  }
  return ops;
}

/**
 * The app container's probes that name the port the agent takes over follow it to its new name:
 * the kubelet resolves a probe's port name in the probe's own container, and probes must keep
 * reaching the app itself, intercepted or not.
 */
function probeRenames(c: V1Container, ci: number, from: string, to: string): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    const probe = c[kind];
    for (const handler of ['httpGet', 'tcpSocket'] as const) {
      if (probe?.[handler]?.port === from) ops.push({ op: 'replace', path: `/spec/containers/${ci}/${kind}/${handler}/port`, value: to });
    }
  }
  return ops;
}

/**
 * The patch on a workload that sets (hash given) or removes (undefined) the agent annotation of its
 * pod template. Removing the last annotation removes the map too, so the template is exactly what
 * it was before the first intercept (the API server omits empty maps, so none was there before).
 */
export function templateAnnotationPatch(annotations: Record<string, string> | undefined, key: string, value: string | undefined): JsonPatchOp[] {
  const base = '/spec/template/metadata/annotations';
  if (value !== undefined) {
    if (!annotations) return [{ op: 'add', path: base, value: { [key]: value } }];
    return [{ op: 'add', path: `${base}/${pointerToken(key)}`, value }];
  }
  if (!annotations || !(key in annotations)) return [];
  // `test` first: if someone changed the annotation meanwhile, the patch fails instead of
  // removing what is now theirs.
  const test: JsonPatchOp = { op: 'test', path: `${base}/${pointerToken(key)}`, value: annotations[key] };
  if (Object.keys(annotations).length === 1) return [test, { op: 'remove', path: base }];
  return [test, { op: 'remove', path: `${base}/${pointerToken(key)}` }];
}
