// `telepresence list [-n NS]`: the workloads of a namespace and whether each can be intercepted
// (and if not, why), as 2.x users know it. Needs a session: the user daemon reads the cluster
// with the session's kubeconfig and the user's own permissions.
import type { ListResult, WorkloadInfo } from '@tel/contracts';
import { defineCommand } from '../command.js';

function portsText(w: WorkloadInfo): string {
  return w.ports.map((p) => `${p.service}:${p.portName ?? p.port}`).join(', ');
}

export function renderList(r: ListResult): string {
  if (r.workloads.length === 0) return `No workloads (Deployments, ReplicaSets, StatefulSets) in namespace ${r.namespace}`;
  const width = Math.max(...r.workloads.map((w) => w.name.length));
  return r.workloads
    .map((w) => {
      const state = w.interceptable ? `ready to intercept (traffic-agent not yet installed): ${portsText(w)}` : `not interceptable: ${w.reason}`;
      return `${w.name.padEnd(width)}: ${w.kind.toLowerCase()} ${state}`;
    })
    .join('\n');
}

export const listCommand = defineCommand({
  name: 'list',
  description: 'List the workloads of a namespace and whether they can be intercepted',
  requires: 'session',
  flags: [{ flags: '-n, --namespace <name>', description: "the namespace to list (default: the session's)" }],
  async run(ctx, opts) {
    const r = await ctx.userDaemon.list(opts.namespace ? { namespace: opts.namespace } : {}, { timeoutMs: 60_000, signal: ctx.signal });
    ctx.out.result(r, () => renderList(r));
  },
});
