// `telepresence list [-n NS] [--agents | --intercepts]`: the workloads of a namespace and their
// state, as 2.x users know it: not interceptable (and why), ready to intercept, agent installed
// (its version), intercepted (by whom, which port, since when). Needs a session: the user daemon
// reads the workloads with the user's own permissions and the rest from the manager.
import type { AgentInfo, InterceptInfo, ListResult, WorkloadInfo } from '@tel/contracts';
import { defineCommand, KUBE_FLAGS } from '../command.js';
import { userError } from '@tel/errors';
import { describeFilter } from '@tel/agent-config';

function portsText(w: WorkloadInfo): string {
  return w.ports.map((p) => `${p.service}:${p.portName ?? p.port}${p.meshHidden ? ` (not interceptable: ${p.meshHidden})` : ''}`).join(', ');
}

function interceptText(i: InterceptInfo): string {
  const port = `${i.service ?? i.spec.service ?? '?'}:${i.servicePortName ?? i.servicePort ?? i.spec.port ?? '?'}`;
  const state = i.state === 'active' ? `since ${i.activeSince ?? '?'}` : i.state === 'installing' ? `installing: ${i.message ?? ''}` : `failed: ${i.message ?? ''}`;
  const what = i.spec.filter ? `requests matching ${describeFilter(i.spec.filter)}` : 'all traffic';
  return `intercepted by ${i.client.user}@${i.client.host} (${i.spec.name}) on ${port}, ${what} → workstation port ${i.spec.localPort}, ${state}`;
}

export interface ListView {
  agentsOnly?: boolean;
  interceptsOnly?: boolean;
}

export function renderList(r: ListResult, view: ListView = {}): string {
  const agentOf = new Map<string, AgentInfo>(r.agents.map((a) => [`${a.kind}/${a.workload}`, a]));
  const interceptsOf = (w: WorkloadInfo) => r.intercepts.filter((i) => i.spec.workload === w.name && (!i.spec.workloadKind || i.spec.workloadKind === w.kind));
  const shown = r.workloads.filter((w) => (!view.agentsOnly || agentOf.has(`${w.kind}/${w.name}`)) && (!view.interceptsOnly || interceptsOf(w).length > 0));
  if (shown.length === 0) {
    const what = view.interceptsOnly ? 'intercepted workloads' : view.agentsOnly ? 'workloads with a traffic-agent' : 'workloads (Deployments, ReplicaSets, StatefulSets, Rollouts)';
    return `No ${what} in namespace ${r.namespace}`;
  }
  const width = Math.max(...shown.map((w) => w.name.length));
  return shown
    .map((w) => {
      const agent = agentOf.get(`${w.kind}/${w.name}`);
      const intercepts = interceptsOf(w);
      let state: string;
      if (intercepts.length) state = intercepts.map(interceptText).join('; ');
      else if (!w.interceptable) state = `not interceptable: ${w.reason}`;
      else if (agent) state = `ready to intercept (traffic-agent ${agent.versions.join(', ')} installed): ${portsText(w)}`;
      else state = `ready to intercept (traffic-agent not yet installed): ${portsText(w)}`;
      return `${w.name.padEnd(width)}: ${w.kind.toLowerCase()} ${state}`;
    })
    .join('\n');
}

export const listCommand = defineCommand({
  name: 'list',
  description: 'List the workloads of a namespace, their agents and intercepts',
  requires: 'session',
  flags: [
    { flags: '-n, --namespace <name>', description: "the namespace to list (default: the session's)" },
    ...KUBE_FLAGS,
    { flags: '-a, --agents', description: 'only workloads with a traffic-agent installed' },
    { flags: '-i, --intercepts', description: 'only intercepted workloads' },
  ],
  validate(opts) {
    if (opts.agents && opts.intercepts) throw userError('--agents and --intercepts exclude each other', 'use one of them, or neither for every workload');
  },
  async run(ctx, opts) {
    const r = await ctx.userDaemon.list(opts.namespace ? { namespace: opts.namespace } : {}, { timeoutMs: 60_000, signal: ctx.signal });
    const view: ListView = { ...(opts.agents ? { agentsOnly: true } : {}), ...(opts.intercepts ? { interceptsOnly: true } : {}) };
    ctx.out.result(r, () => renderList(r, view));
  },
});
