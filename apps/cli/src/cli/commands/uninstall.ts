// `telepresence uninstall NAME... | --all-agents [-n NS]`: remove traffic agents; each workload's pod
// template becomes exactly what it was before its first intercept (nothing left for a GitOps diff).
import { userError } from '@tel/errors';
import { defineCommand, KUBE_FLAGS } from '../command.js';

export const uninstallCommand = defineCommand({
  name: 'uninstall',
  description: 'Remove the traffic agent from workloads',
  requires: 'session',
  args: ['[workloads...]'],
  flags: [
    { flags: '-a, --all-agents', description: 'every workload with a traffic agent in the namespace' },
    { flags: '-n, --namespace <name>', description: "the workloads' namespace (default: the session's)" },
    ...KUBE_FLAGS,
  ],
  validate(opts, args) {
    if (opts.allAgents && args.length) throw userError('name workloads or use --all-agents, not both', 'e.g. telepresence uninstall web, or telepresence uninstall --all-agents');
    if (!opts.allAgents && !args.length) throw userError('nothing to uninstall', 'name the workloads, or use --all-agents');
  },
  async run(ctx, opts, args) {
    const r = await ctx.userDaemon.uninstall({ workloads: args, all: !!opts.allAgents, ...(opts.namespace ? { namespace: opts.namespace } : {}) }, { timeoutMs: 60_000, signal: ctx.signal });
    ctx.out.result(r, () => (r.removed.length ? r.removed.map((w) => `Removed the traffic agent from ${w.workload} in namespace ${w.namespace}`).join('\n') : 'No traffic agent to remove'));
  },
});
