// `telepresence intercept NAME [--port LOCAL[:SVCPORT|:PORTNAME]] [--service S] [--workload W]
// [-n NS] [--http-header H=V ...] [--http-path-equal|--http-path-prefix|--http-path-regex P]
// [--env-file F] [--env-syntax S] [--env-json F] [-- cmd args]`: a global intercept, or with an
// --http-* filter a personal one, as in 2.x. Returns once cluster traffic for that Service port
// (or its matching requests) reaches localhost:LOCAL. With `-- cmd`,
// cmd runs with the pod's environment and the intercept ends when cmd exits (its exit code is ours).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { InterceptInfo, InterceptResult } from '@tel/contracts';
import { userError } from '@tel/errors';
import { formatEnv, formatEnvJson, parseEnvSyntax, ENV_SYNTAXES } from '../../intercept/env-file.js';
import { parsePortFlag } from '../../intercept/port-flag.js';
import { autoHeader, filterFromFlags } from '../../intercept/filter-flags.js';
import { describeFilter } from '@tel/agent-config';
import { defineCommand, KUBE_FLAGS, type DaemonsContext } from '../command.js';
import type { Output } from '../output.js';

/** A DNS-1123 subdomain, what the manager accepts as an intercept or workload name. */
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function renderIntercept(r: InterceptResult): string {
  const i = r.intercept;
  const rows: [string, string][] = [
    ['Intercept name', i.spec.name],
    ['State', i.state.toUpperCase()],
    ['Workload', `${(i.spec.workloadKind ?? 'workload').toLowerCase()}/${i.spec.workload} in namespace ${i.spec.namespace}`],
    ['Service port', `${i.service ?? '?'}:${i.servicePortName ? `${i.servicePortName} (${i.servicePort})` : i.servicePort}`],
    ['Destination', `127.0.0.1:${i.spec.localPort}`],
    ['Intercepting', i.spec.filter ? `HTTP requests that match ${describeFilter(i.spec.filter)}` : 'all connections (global)'],
    ['Pods', `${i.podsReady ?? '?'}/${i.podsWanted ?? '?'} with the traffic agent`],
    ['Ready in', `${(r.elapsedMs / 1000).toFixed(2)}s`],
  ];
  return rows.map(([k, v]) => `   ${k.padEnd(15)}: ${v}`).join('\n');
}

/** Writes the env files asked for; returns one warning line per variable a syntax can't carry. */
function writeEnvFiles(i: InterceptInfo, opts: { envFile?: string; envSyntax: string; envJson?: string }): string[] {
  const env = i.environment ?? {};
  const warnings: string[] = [];
  if (opts.envFile) {
    const f = formatEnv(env, parseEnvSyntax(opts.envSyntax)!);
    writeFileSync(opts.envFile, f.text, { mode: 0o600 });
    for (const s of f.skipped) warnings.push(`${opts.envFile}: left out ${s.name}: ${s.reason}`);
  }
  if (opts.envJson) writeFileSync(opts.envJson, formatEnvJson(env), { mode: 0o600 });
  return warnings;
}

/** Runs `argv` with the intercepted environment over ours; resolves with its exit code. */
function runWithEnv(argv: string[], env: NodeJS.ProcessEnv, intercepted: Record<string, string>, signal: AbortSignal, out: Output): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env: { ...env, ...intercepted } });
    // Ctrl-C reaches the child from the terminal; a cancel from elsewhere is passed on.
    const onAbort = () => child.kill('SIGTERM');
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      out.error(`cannot run ${argv[0]}: ${err.message}`);
      resolve(127);
    });
    child.once('exit', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      resolve(code ?? (sig ? 128 + 15 : 1));
    });
  });
}

export const interceptCommand = defineCommand({
  name: 'intercept',
  description: "Send a workload's traffic for one Service port to a port on this machine",
  requires: 'session',
  args: ['<name>'],
  passThrough: true,
  flags: [
    { flags: '-p, --port <local[:remote]>', description: 'local port, and the Service port (number or name) when the workload has several', default: '8080' },
    { flags: '--service <name>', description: 'the Service to intercept through, when several select the workload' },
    { flags: '-w, --workload <name>', description: 'the workload to intercept (default: NAME)' },
    { flags: '-n, --namespace <name>', description: "the workload's namespace (default: the session's)" },
    ...KUBE_FLAGS,
    { flags: '--http-header <name=value>', description: 'personal intercept: only requests with this header (VALUE a regular expression; repeatable, all must match); "auto" makes one for you', repeatable: true },
    { flags: '--http-path-equal <path>', description: 'personal intercept: only requests for exactly this path' },
    { flags: '--http-path-prefix <prefix>', description: 'personal intercept: only requests whose path starts with this' },
    { flags: '--http-path-regex <regex>', description: 'personal intercept: only requests whose whole path matches this regular expression' },
    { flags: '-e, --env-file <file>', description: "write the intercepted container's environment to this file" },
    { flags: '--env-syntax <syntax>', description: `syntax of --env-file: ${ENV_SYNTAXES.join(', ')}`, default: 'docker' },
    { flags: '-j, --env-json <file>', description: "write the intercepted container's environment as JSON" },
  ],
  validate(opts, args) {
    const name = args[0] ?? '';
    if (!NAME.test(name)) throw userError(`invalid intercept name ${JSON.stringify(name)}`, 'use lowercase letters, digits, "-" and "." (a DNS subdomain), e.g. the workload name');
    if (opts.workload !== undefined && !NAME.test(opts.workload)) throw userError(`invalid --workload ${JSON.stringify(opts.workload)}`, 'name a Deployment, ReplicaSet, StatefulSet or Rollout');
    parsePortFlag(opts.port);
    filterFromFlags(opts);
    if (!parseEnvSyntax(opts.envSyntax)) throw userError(`invalid --env-syntax ${JSON.stringify(opts.envSyntax)}`, `use one of ${ENV_SYNTAXES.join(', ')}`);
  },
  async run(ctx: DaemonsContext, opts, args, passThrough) {
    const name = args[0]!;
    const port = parsePortFlag(opts.port);
    const filter = filterFromFlags(opts);
    const call = ctx.userDaemon.intercept(
      {
        name,
        localPort: port.local,
        ...(port.remote !== undefined ? { remotePort: port.remote } : {}),
        ...(opts.namespace ? { namespace: opts.namespace } : {}),
        ...(opts.workload ? { workload: opts.workload } : {}),
        ...(opts.service ? { service: opts.service } : {}),
        ...(filter ? { filter } : {}),
      },
      { timeoutMs: ctx.config().timeouts.agentInstall + 30_000, signal: ctx.signal },
    );
    const show = ctx.out.events();
    for await (const event of call) show(event);
    const result = await call.result;
    ctx.out.progressDone();
    for (const w of writeEnvFiles(result.intercept, { ...(opts.envFile ? { envFile: opts.envFile } : {}), envSyntax: opts.envSyntax, ...(opts.envJson ? { envJson: opts.envJson } : {}) })) ctx.out.notice(w);
    const { environment: _env, ...shown } = result.intercept;
    const auto = autoHeader(result.intercept.spec.filter);
    ctx.out.result({ intercept: shown, elapsedMs: result.elapsedMs, ...(auto ? { header: auto } : {}) }, () => renderIntercept(result) + (auto ? `\n   Send requests with the header\n      ${auto.name}: ${auto.value}\n   to reach this workstation` : ''));
    if (!passThrough.length) return;
    // `-- cmd`: the intercept lives as long as cmd; leaving is best effort if the daemon went away.
    const code = await runWithEnv(passThrough, ctx.env, result.intercept.environment ?? {}, ctx.signal, ctx.out);
    await ctx.userDaemon.leave({ name }, { timeoutMs: 30_000 }).catch((err: Error) => ctx.out.notice(`leaving intercept ${name} failed: ${err.message}`));
    return code;
  },
});
