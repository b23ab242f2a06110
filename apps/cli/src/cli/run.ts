// Builds the parser from the command specs, resolves what a command requires (ensureDaemons),
// runs it, and maps errors to exit codes. Arguments after `--` go to commands that pass them on.
import { Command, CommanderError, Option } from 'commander';
import { EXIT_CODES, formatError, toErrorInfo, userError } from '@tel/errors';
import { buildVersion } from '@tel/version';
import { loadConfig, type Config } from '../config/config.js';
import { configFile, logsDir } from '../paths.js';
import type { AnyCommand, CommandContext, DaemonsContext } from './command.js';
import { COMMANDS } from './commands/index.js';
import { ensureDaemons } from './daemons.js';
import { Output, type OutputFormat } from './output.js';

export interface RunIO {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
  /**
   * Handle Ctrl-C (main.ts sets it): the first SIGINT aborts the command's signal, so a daemon
   * call in flight is cancelled on the daemon side too; a second one exits at once.
   */
  handleInterrupts?: boolean;
}

/** Exit code after a second Ctrl-C, as shells report a process ended by SIGINT. A command that
 * winds down after the first one fails with its own (cancelled) error and that error's code. */
const INTERRUPTED_EXIT = 130;

export async function run(argv: string[], io: RunIO = {}, commands: AnyCommand[] = COMMANDS): Promise<number> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let exitCode = 0;
  let out = new Output('text', stdout, stderr);
  const dashes = argv.indexOf('--');
  const parsed = dashes < 0 ? argv : argv.slice(0, dashes);
  const passThrough = dashes < 0 ? [] : argv.slice(dashes + 1);
  const program = new Command('telepresence')
    .description('Connect your workstation to a Kubernetes cluster')
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) })
    .addOption(new Option('-o, --output <format>', 'output format').choices(['default', 'json']).default('default'))
    .option('--verbose', 'print stack traces of unexpected errors');
  program.version(buildVersion, '--client-version', 'print the client version only');

  const add = (parent: Command, spec: AnyCommand, path: string) => {
    const cmd = parent.command(spec.name, { hidden: spec.hidden ?? false }).description(spec.description);
    for (const a of spec.args ?? []) cmd.argument(a);
    for (const f of spec.flags ?? []) {
      if (f.repeatable) cmd.option(f.flags, f.description, (v: string, prev: string[]) => [...prev, v], [] as string[]);
      else cmd.option(f.flags, f.description, f.default);
    }
    if (spec.passThrough) cmd.usage(`[options]${spec.args?.length ? ` ${spec.args.join(' ')}` : ''} [-- <args...>]`);
    for (const sub of spec.subcommands ?? []) add(cmd, sub, `${path} ${sub.name}`);
    const handler = spec.run;
    if (!handler) return;
    cmd.action(async (...params: unknown[]) => {
      const c = params[params.length - 1] as Command;
      const globals = program.opts<{ output: string }>();
      out = new Output((globals.output === 'default' ? 'text' : globals.output) as OutputFormat, stdout, stderr);
      if (passThrough.length && !spec.passThrough) throw userError(`${path} takes no arguments after --`, `remove '-- ${passThrough.join(' ')}'`);
      const opts = c.opts<Record<string, unknown>>();
      spec.validate?.(opts, c.args);
      let config: Config | undefined;
      const interrupt = new AbortController();
      const base: CommandContext = { out, env, signal: interrupt.signal, config: () => (config ??= loadConfig(configFile(env))) };
      const stopInterrupts = io.handleInterrupts && !spec.runsDaemon ? onInterrupt(interrupt) : () => undefined;
      try {
        // The one place requirements are met: commands never start daemons themselves.
        if (spec.requires === 'none') {
          exitCode = (await handler(base as DaemonsContext, opts, c.args, passThrough)) ?? 0;
          return;
        }
        const daemons = await ensureDaemons(spec.requires, { out, env, startTimeoutMs: base.config().timeouts.daemonStart, config: base.config, signal: interrupt.signal });
        try {
          exitCode = (await handler({ ...base, daemons, userDaemon: daemons.userDaemon.client }, opts, c.args, passThrough)) ?? 0;
        } finally {
          daemons.userDaemon.client.close();
        }
      } finally {
        out.progressDone();
        stopInterrupts();
      }
    });
  };
  for (const spec of commands) add(program, spec, spec.name);

  try {
    await program.parseAsync(parsed, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; parse errors were already printed by commander.
      return err.exitCode === 0 ? 0 : EXIT_CODES.user;
    }
    const info = toErrorInfo(err);
    if (out.json) out.errorDocument(info);
    else out.error(formatError(info, logsDir(env)));
    if (info.category === 'bug' && program.opts().verbose && err instanceof Error) stderr.write(`${err.stack}\n`);
    return EXIT_CODES[info.category];
  }
}

/** First SIGINT: abort (the command winds down, cancelling daemon calls); second: exit now. */
function onInterrupt(interrupt: AbortController): () => void {
  const second = () => process.exit(INTERRUPTED_EXIT);
  const first = () => {
    interrupt.abort();
    process.once('SIGINT', second);
  };
  process.once('SIGINT', first);
  return () => {
    process.removeListener('SIGINT', first);
    process.removeListener('SIGINT', second);
  };
}
