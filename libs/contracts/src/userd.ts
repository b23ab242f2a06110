// Boundary: CLI → user daemon ("connector"), over a unix socket owned by the user.
// Local contract: the CLI and the user daemon ship in one bundle, so it need not stay compatible.
import type { Method, StreamMethod } from './contract.js';
import type { DaemonVersion, Empty, ProgressEvent, SetLogLevelRequest } from './common.js';
import type { AgentInfo, HttpFilterSpec, InterceptInfo } from './manager/intercepts.js';
import type { NetworkStatus, RootDaemonStatus } from './rootd.js';

export type { DaemonVersion, Empty, ProgressEvent, SetLogLevelRequest } from './common.js';

export interface UserDaemonStatus {
  version: DaemonVersion;
  /** Absolute path of the daemon's log file. */
  logFile: string;
  /** Seconds since the daemon started. */
  uptimeSeconds: number;
}

/** What `telepresence connect` asks for; the flags of 2.x plus the CLI's environment. */
export interface ConnectRequest {
  /** The CLI's KUBECONFIG (a path list); unset means ~/.kube/config. */
  kubeconfigEnv?: string;
  /** The CLI's TELEPRESENCE_REGISTRY, which overrides config.yml for the manager image. */
  registryEnv?: string;
  /** `--context`; else the kubeconfig's current-context. */
  context?: string;
  /** `--namespace`; else the context's namespace, else "default". */
  namespace?: string;
  /** `--manager-namespace`; else the extension's manager.namespace, else `DEFAULT_MANAGER_NAMESPACE` (defaults.ts). */
  managerNamespace?: string;
  /** `--also-proxy`, added to the extension's also-proxy. */
  alsoProxy: string[];
  /** `--never-proxy`, added to the extension's never-proxy. */
  neverProxy: string[];
}

/** The session the user daemon holds with one cluster. */
export interface SessionInfo {
  /** Kubeconfig files that were read, in order. */
  kubeconfigFiles: string[];
  context: string;
  /** API server URL of the context's cluster. */
  server: string;
  namespace: string;
  managerNamespace: string;
  /** The traffic manager's version as it answered GET /version. */
  managerVersion: { version: string; apiVersion: number; agentImage?: string };
  /** What connect did about the manager: e.g. "installed", "upgraded", "unchanged". */
  managerAction: string;
  /** Set when the manager runs another (compatible) version than the client. */
  managerWarning?: string;
  /** Unix socket (0600) whose connections are port-forward streams to the manager API port. */
  managerSocket: string;
  /** ISO time the session was established. */
  connectedAt: string;
  /** What the root daemon reported right after connectNetwork. */
  network: NetworkStatus;
}

export interface ConnectResult {
  session: SessionInfo;
  /** True when a session with the same context and namespaces already existed. */
  alreadyConnected: boolean;
  /** Milliseconds the connect took inside the user daemon. */
  elapsedMs: number;
  /** Where that time went (absent when already connected). */
  timings?: ConnectTimings;
}

/** When each step of a connect ended, for profiling connect (bench/connect reads them). */
export interface ConnectTimings {
  /** Epoch ms the user daemon's process started (its node binary began). */
  daemonStartedAt: number;
  /** Epoch ms the user daemon received this connect. */
  receivedAt: number;
  /** Each step as it ended, in order, in ms since `receivedAt`; steps run side by side overlap. */
  steps: { step: ConnectStep; startMs: number; endMs: number }[];
}

/** The steps of a connect inside the user daemon. */
export type ConnectStep = 'kubeconfig' | 'manager-check' | 'port-forward' | 'manager-version' | 'manager-session' | 'cluster-info' | 'tcp-listener' | 'routes' | 'dns';

/** The session as `telepresence status` shows it. */
export interface SessionStatus {
  session: SessionInfo | null;
  /** The port-forward to the manager: pod, streams carried, last failure. */
  portForward: {
    pod?: string;
    serving: boolean;
    activeStreams: number;
    lastError?: string;
    /** TCP connections the root daemon handed over and this daemon carried (stream tunnel). */
    tcp?: { ok: number; failed: number; accepted: number; lastError?: string };
  } | null;
  /** The root daemon's current view (routes, exclusions, tunnel health); null when not connected. */
  network: NetworkStatus | null;
  /** The root daemon's status as seen from the user daemon; null when it did not answer. */
  rootDaemon: RootDaemonStatus | null;
  /** This daemon's session in the traffic manager; absent when not connected. */
  manager?: ManagerSessionInfo;
  /** This session's intercepts (without their environment); absent when not connected. */
  intercepts?: InterceptInfo[];
}

/** The user daemon's session in the traffic manager (arrive / remain / depart). */
export interface ManagerSessionInfo {
  /** The session id the manager gave; absent while arriving again (manager restarting). */
  sessionId?: string;
  /** The manager's version as it last answered (it may have been upgraded since connect). */
  managerVersion: string;
  /** ISO time of the current session's arrival. */
  arrivedAt?: string;
  /** ISO time the manager last answered anything. */
  lastAnswerAt?: string;
  /** How many times the daemon arrived; more than 1 means the manager restarted or the lease ran out. */
  arrivals: number;
  /** Why the heartbeats currently fail, while they do. */
  lastError?: string;
}

/** A Service port that reaches a workload's pods, as `telepresence intercept --port` names it. */
export interface WorkloadPort {
  service: string;
  port: number;
  portName?: string;
  /** Where it lands in the pod: the container and its port (named when the Service names it). */
  container: string;
  containerPort: number;
  targetPortName?: string;
  /** Why a service mesh keeps this port away from the agent (it can't be intercepted), when it does. */
  meshHidden?: string;
}

/** One workload of `telepresence list`: whether it can be intercepted, and if not why. */
export interface WorkloadInfo {
  namespace: string;
  name: string;
  kind: 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'Rollout';
  interceptable: boolean;
  /** Why not (interceptable false), and what to do about it. */
  reason?: string;
  hint?: string;
  ports: WorkloadPort[];
}

export interface ListRequest {
  /** Default: the session's namespace. */
  namespace?: string;
}

export interface ListResult {
  namespace: string;
  workloads: WorkloadInfo[];
  /** Every intercept in the namespace (all users; without their environment). */
  intercepts: InterceptInfo[];
  /** The namespace's workloads that have agents connected to the manager. */
  agents: AgentInfo[];
}

/** `telepresence intercept NAME --port LOCAL[:REMOTE] [--service S] [--workload W] [-n NS]`. */
export interface InterceptRequest {
  name: string;
  /** Default: the session's namespace. */
  namespace?: string;
  /** Default: `name`. */
  workload?: string;
  service?: string;
  /** Where connections go on the workstation (127.0.0.1). */
  localPort: number;
  /** The Service port (number) or its name; absent: the only one. */
  remotePort?: number | string;
  /**
   * A personal intercept's filter. A header `auto` (`--http-header=auto`) becomes
   * `x-telepresence-intercept-id=<session>:<name>`, unique to this intercept.
   */
  filter?: HttpFilterSpec;
}

export interface InterceptResult {
  intercept: InterceptInfo;
  /** Milliseconds until the intercept served. */
  elapsedMs: number;
}

export interface UninstallRequest {
  namespace?: string;
  workloads: string[];
  /** Every workload with an agent in the namespace. */
  all: boolean;
}

export interface UserDaemonContract {
  /** The daemon's build version, for the CLI's version check. */
  version: Method<Empty, DaemonVersion>;
  status: Method<Empty, UserDaemonStatus>;
  /** Stop the daemon after answering. */
  quit: Method<Empty, Empty>;
  /** Change the log level at run time (`telepresence loglevel`). */
  setLogLevel: Method<SetLogLevelRequest, Empty>;
  /**
   * Connect to the cluster: kubeconfig, manager (install/version policy), port-forward, root
   * daemon network. Idempotent for the same context and namespaces; a different one is refused
   * until `telepresence quit`. Streams the manager install's progress; cancelling it (Ctrl-C in
   * the CLI) stops the install's waiting and leaves no session behind.
   */
  connect: StreamMethod<ConnectRequest, ProgressEvent, ConnectResult>;
  /** End the session: root daemon network off, port-forwards closed. */
  disconnect: Method<Empty, { wasConnected: boolean }>;
  sessionStatus: Method<Empty, SessionStatus>;
  /** The workloads of a namespace, read with the user's own credentials (needs a session). */
  list: Method<ListRequest, ListResult>;
  /**
   * Start a global intercept and return once it serves (new pods ready with the agent). Streams
   * the agent install's progress; cancelling it leaves nothing wanted.
   */
  intercept: StreamMethod<InterceptRequest, ProgressEvent, InterceptResult>;
  /** End one of this session's intercepts (the agent stays for the next one). */
  leave: Method<{ name: string }, { left: boolean }>;
  /** This session's intercepts. */
  intercepts: Method<Empty, { intercepts: InterceptInfo[] }>;
  /** Remove agents: pod templates back to exactly what they were. */
  uninstall: Method<UninstallRequest, { removed: { namespace: string; workload: string }[] }>;
}
