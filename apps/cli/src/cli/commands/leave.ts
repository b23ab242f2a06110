// `telepresence leave NAME`: end one of this session's intercepts. The agent stays in the
// workload's pods, so the next intercept is immediate; `uninstall` removes it.
import { defineCommand, KUBE_FLAGS } from '../command.js';

export const leaveCommand = defineCommand({
  name: 'leave',
  description: 'End an intercept (traffic goes to the workload again)',
  requires: 'session',
  args: ['<name>'],
  flags: KUBE_FLAGS,
  async run(ctx, _opts, args) {
    const name = args[0]!;
    const r = await ctx.userDaemon.leave({ name }, { timeoutMs: 30_000, signal: ctx.signal });
    ctx.out.result({ name, ...r }, () => `Intercept ${name} ended`);
  },
});
