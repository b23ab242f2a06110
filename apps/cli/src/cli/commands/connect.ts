// `telepresence connect`: with both daemons running (run.ts ensures them), ask the user daemon for
// a session with the cluster; it installs or checks the manager (streaming its progress here) and
// has the root daemon route. Ctrl-C cancels the daemon-side connect.
import type { ConnectRequest, ConnectResult, UserDaemonContract } from '@tel/contracts';
import type { Client } from '@tel/ipc';
import { DEFAULT_CONFIG, type Config } from '../../config/config.js';
import type { Output } from '../output.js';
import { buildVersion } from '@tel/version';
import { INSTALL_TIMEOUT_MS, ROOT_NETWORK_TIMEOUT_MS } from '../../userd/timeouts.js';
import { mergeCidrs } from '../../userd/subnets.js';
import { defineCommand } from '../command.js';

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

/**
 * Asks the user daemon for a session and shows its progress; `connect` and every command that
 * needs a session and finds none (ensureDaemons) go through here.
 */
export async function connectSession(
  userDaemon: Client<UserDaemonContract>,
  ctx: { out: Output; env: NodeJS.ProcessEnv; config?: () => Config; signal?: AbortSignal },
  req: Partial<ConnectRequest> = {},
): Promise<ConnectResult> {
  const timeouts = (ctx.config?.() ?? DEFAULT_CONFIG).timeouts;
  const budget = SESSION_BUDGET_MS + timeouts.trafficManagerConnect + 2 * timeouts.trafficManagerAPI;
  ctx.out.progress('Connecting to the cluster...');
  const call = userDaemon.connect(
    {
      ...(ctx.env.KUBECONFIG ? { kubeconfigEnv: ctx.env.KUBECONFIG } : {}),
      ...(ctx.env.TELEPRESENCE_REGISTRY ? { registryEnv: ctx.env.TELEPRESENCE_REGISTRY } : {}),
      alsoProxy: [],
      neverProxy: [],
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

export const connectCommand = defineCommand({
  name: 'connect',
  description: 'Connect to a cluster: route its pod and service subnets through the traffic manager',
  requires: 'daemons',
  flags: [
    { flags: '--context <name>', description: 'the kubeconfig context to use (default: current-context)' },
    { flags: '-n, --namespace <name>', description: "the namespace to use (default: the context's)" },
    { flags: '--manager-namespace <name>', description: 'the namespace of the traffic manager (default: kubeconfig extension, else ambassador)' },
    { flags: '--also-proxy <cidr...>', description: 'additional subnets to route into the cluster (repeatable)' },
    { flags: '--never-proxy <cidr...>', description: 'subnets never to route into the cluster (repeatable)' },
  ],
  // Bad flags fail before any daemon is started.
  validate(opts) {
    mergeCidrs([], splitList(opts.alsoProxy), '--also-proxy');
    mergeCidrs([], splitList(opts.neverProxy), '--never-proxy');
  },
  async run(ctx, opts) {
    // The session: kubeconfig, manager, port-forward, routes (all inside the user daemon).
    const result = await connectSession(ctx.userDaemon, ctx, {
      ...(opts.context ? { context: opts.context } : {}),
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
