// `telepresence connect`: with both daemons running (run.ts ensures them), ask the user daemon for
// a session with the cluster; it installs or checks the manager (streaming its progress here) and
// has the root daemon route. Ctrl-C cancels the daemon-side connect.
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import type { ConnectRequest, ConnectResult, UserDaemonContract } from '@tel/contracts';
import { userError } from '@tel/errors';
import type { Client } from '@tel/ipc';
import { DEFAULT_CONFIG, type Config } from '../../config/config.js';
import type { Output } from '../output.js';
import { buildVersion } from '@tel/version';
import { INSTALL_TIMEOUT_MS, ROOT_NETWORK_TIMEOUT_MS } from '../../userd/timeouts.js';
import { mergeCidrs } from '../../userd/subnets.js';
import { defineCommand, hasKubeFlags, KUBE_FLAGS, kubeconfigSource, MANAGER_NAMESPACE_FLAG, type KubeOptions } from '../command.js';

/** What the user daemon may spend at most (install + root daemon network), plus 30 s of slack. */
const SESSION_BUDGET_MS = INSTALL_TIMEOUT_MS + ROOT_NETWORK_TIMEOUT_MS + 30_000;

/** 2.x accepts both `--also-proxy a --also-proxy b` and `--also-proxy a,b`. */
export function splitList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0);
}

export function renderConnect(r: ConnectResult): string {
  const s = r.session;
  const head = r.alreadyConnected ? 'Already connected' : 'Connected';
  const lines = [`${head} to context ${s.context}, namespace ${s.namespace} (${s.server})`];
  if (!r.alreadyConnected) lines.push(`Traffic Manager ${s.managerVersion.version} in namespace ${s.managerNamespace} (${s.managerAction})`);
  const dns = s.network.dns;
  if (dns) lines.push(`DNS: ${dns.mode} mode: ${dns.modeReason ?? 'configured'}`);
  else if (s.network.dnsError) lines.push(`DNS: NOT running: ${s.network.dnsError}`);
  return lines.join('\n');
}

/** The connect request the kube flags of a command ask for (kubeconfig files made absolute). */
export function kubeRequest(env: NodeJS.ProcessEnv, opts: KubeOptions): Partial<ConnectRequest> {
  const src = kubeconfigSource(env, opts);
  return { ...(src.kubeconfigEnv ? { kubeconfigEnv: src.kubeconfigEnv } : {}), ...(src.context ? { context: src.context } : {}) };
}

export interface ConnectContext {
  out: Output;
  env: NodeJS.ProcessEnv;
  config?: () => Config;
  signal?: AbortSignal;
  /** The kube flags of a command that connects on demand (run.ts sets it; ensureDaemons passes ctx on). */
  connect?: Partial<ConnectRequest>;
}

/**
 * Asks the user daemon for a session and shows its progress; `connect` and every command that
 * needs a session and finds none (ensureDaemons) go through here.
 */
export async function connectSession(userDaemon: Client<UserDaemonContract>, ctx: ConnectContext, req: Partial<ConnectRequest> = {}): Promise<ConnectResult> {
  const timeouts = (ctx.config?.() ?? DEFAULT_CONFIG).timeouts;
  const budget = SESSION_BUDGET_MS + timeouts.trafficManagerConnect + 2 * timeouts.trafficManagerAPI;
  ctx.out.progress('Connecting to the cluster...');
  const call = userDaemon.connect(
    {
      ...kubeRequest(ctx.env, {}),
      ...(ctx.env.TELEPRESENCE_REGISTRY ? { registryEnv: ctx.env.TELEPRESENCE_REGISTRY } : {}),
      alsoProxy: [],
      neverProxy: [],
      ...ctx.connect,
      ...req,
    },
    { timeoutMs: budget, ...(ctx.signal ? { signal: ctx.signal } : {}) },
  );
  const show = ctx.out.events();
  for await (const event of call) show(event);
  const result = await call.result;
  ctx.out.progressDone();
  return result;
}

/**
 * A command given --kubeconfig or --context while a session exists: that session must be the one
 * they name, else the command would silently work on another cluster.
 */
export async function checkSessionTarget(userDaemon: Client<UserDaemonContract>, env: NodeJS.ProcessEnv, opts: KubeOptions): Promise<void> {
  if (!hasKubeFlags(opts)) return;
  const s = (await userDaemon.sessionStatus({}, { timeoutMs: 10_000 })).session;
  if (!s) return;
  const quit = "run 'telepresence quit' first to connect elsewhere, or leave out the flag";
  if (opts.context !== undefined && s.context !== opts.context) throw userError(`connected to context ${s.context}, not ${opts.context}`, quit);
  const files = kubeconfigSource(env, opts).kubeconfigEnv?.split(delimiter).filter((f) => existsSync(f));
  if (opts.kubeconfig !== undefined && files?.join(delimiter) !== s.kubeconfigFiles.join(delimiter)) {
    throw userError(`connected with kubeconfig ${s.kubeconfigFiles.join(delimiter)}, not ${opts.kubeconfig}`, quit);
  }
}

export const connectCommand = defineCommand({
  name: 'connect',
  description: 'Connect to a cluster: route its pod and service subnets through the traffic manager',
  requires: 'daemons',
  flags: [
    ...KUBE_FLAGS,
    { flags: '-n, --namespace <name>', description: "the workloads' namespace (default: the context's)" },
    MANAGER_NAMESPACE_FLAG,
    { flags: '--also-proxy <cidr...>', description: 'additional subnets to route into the cluster (repeatable)' },
    { flags: '--never-proxy <cidr...>', description: 'subnets never to route into the cluster (repeatable)' },
  ],
  // Bad flags fail before any daemon is started.
  validate(opts) {
    kubeconfigSource({}, opts);
    mergeCidrs([], splitList(opts.alsoProxy), '--also-proxy');
    mergeCidrs([], splitList(opts.neverProxy), '--never-proxy');
  },
  async run(ctx, opts) {
    // The session: kubeconfig, manager, port-forward, routes (all inside the user daemon).
    const result = await connectSession(ctx.userDaemon, ctx, {
      ...kubeRequest(ctx.env, opts),
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(opts.managerNamespace ? { managerNamespace: opts.managerNamespace } : {}),
      alsoProxy: mergeCidrs([], splitList(opts.alsoProxy), '--also-proxy'),
      neverProxy: mergeCidrs([], splitList(opts.neverProxy), '--never-proxy'),
    });
    const s = result.session;
    ctx.out.result(
      {
        connected: true,
        alreadyConnected: result.alreadyConnected,
        elapsedMs: result.elapsedMs,
        client: { version: buildVersion },
        context: s.context,
        server: s.server,
        namespace: s.namespace,
        managerNamespace: s.managerNamespace,
        trafficManager: { ...s.managerVersion, action: s.managerAction, ...(s.managerWarning ? { warning: s.managerWarning } : {}) },
        routedSubnets: s.network.routedSubnets,
        excluded: s.network.excluded,
        dns: s.network.dns
          ? { mode: s.network.dns.mode, ...(s.network.dns.modeReason ? { modeReason: s.network.dns.modeReason } : {}), ...(s.network.dns.systemResolver ? { systemResolver: s.network.dns.systemResolver } : {}) }
          : { error: s.network.dnsError ?? 'not running' },
      },
      () => renderConnect(result),
    );
  },
});
