// Builds the parser from the command specs, resolves what a command requires (ensureDaemons),
// runs it, and maps errors to exit codes. Arguments after `--` go to commands that pass them on.
// Every error, the parser's included, leaves as one `telepresence <command>: error: ...` line.
import { Command, CommanderError, Option } from 'commander';
import { EXIT_CODES, formatError, toErrorInfo, userError, type ErrorInfo } from '@tel/errors';
import { buildVersion } from '@tel/version';
import { loadConfig, type Config } from '../config/config.js';
import { configFile, logsDir } from '../paths.js';
import { KUBE_FLAGS, type AnyCommand, type CommandContext, type DaemonsContext, type KubeOptions } from './command.js';
import { checkSessionTarget, kubeRequest, type ConnectContext } from './commands/connect.js';
import { COMMANDS } from './commands/index.js';
import { ensureDaemons } from './daemons.js';
import { Output, parseOutputFormat, type OutputFormat } from './output.js';

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

/** A parser error, tagged with the command whose arguments it is about. */
class ParseError extends Error {
  constructor(
    readonly command: string,
    readonly parserError: CommanderError,
  ) {
    super(parserError.message);
  }
}

/** Help asked for (exit 0) or shown for a command that needs a subcommand (exit 1): no error line. */
const isHelp = (err: CommanderError) => err.exitCode === 0 || err.code === 'commander.help';

/** Commander's `error: unknown option '-x'\n(Did you mean --y?)` as one line of our format. */
export function parseErrorInfo(command: string, err: CommanderError): ErrorInfo {
  const message = err.message
    .replace(/^error: /, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .join(' ')
    .replace(/\.$/, '');
  return { category: 'user', message, hint: `see 'telepresence${command ? ` ${command}` : ''} --help'` };
}

/** The global `-o` (or the hidden `--json`) as a format; an invalid one is a user error. */
function formatOf(globals: { output: string; json?: boolean }): OutputFormat {
  return globals.json ? 'json' : parseOutputFormat(globals.output);
}

/** The output format given to `c` or, failing that, to the nearest command above it (the program has the default). */
function formatFor(c: Command): OutputFormat {
  for (let at: Command | null = c; at; at = at.parent) {
    const o = at.opts<{ output?: string; json?: boolean }>();
    if (o.json) return 'json';
    if (o.output !== undefined) return parseOutputFormat(o.output);
  }
  return 'text';
}

const OUTPUT_DESCRIPTION = 'output format: default, json or yaml';
/** A command whose own `-o` means something else (2.x's `gather-logs -o FILE`) keeps `--output` for the format. */
const ownsShortO = (spec: AnyCommand) => (spec.flags ?? []).some((f) => /^-o,/.test(f.flags));

/**
 * Options are read where they stand (positional), so that a command may give `-o` a meaning of its
 * own; every other command takes `-o/--output` (and `--json`) itself, before or after its name.
 */
function addOutputOptions(cmd: Command, spec: AnyCommand): void {
  cmd.option(ownsShortO(spec) ? '--output <format>' : '-o, --output <format>', OUTPUT_DESCRIPTION).addOption(new Option('--json', 'same as --output json').hideHelp());
}

export async function run(argv: string[], io: RunIO = {}, commands: AnyCommand[] = COMMANDS): Promise<number> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let exitCode = 0;
  let out: Output | undefined;
  const dashes = argv.indexOf('--');
  const parsed = dashes < 0 ? argv : argv.slice(0, dashes);
  const passThrough = dashes < 0 ? [] : argv.slice(dashes + 1);
  // Commander prints nothing of its own on errors: they are ours to format.
  const quietParser = (cmd: Command, path: string) =>
    cmd
      .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s), outputError: () => undefined })
      .exitOverride((err) => {
        throw isHelp(err) ? err : new ParseError(path, err);
      });
  const program = quietParser(new Command('telepresence'), '')
    .description('Connect your workstation to a Kubernetes cluster')
    .option('-o, --output <format>', OUTPUT_DESCRIPTION, 'default')
    .addOption(new Option('--json', 'same as --output json').hideHelp())
    .option('--verbose', 'print stack traces of unexpected errors')
    .enablePositionalOptions();
  program.version(buildVersion, '--client-version', 'print the client version only');

  const add = (parent: Command, spec: AnyCommand, path: string) => {
    const cmd = quietParser(parent.command(spec.name, { hidden: spec.hidden ?? false }), path).description(spec.description);
    addOutputOptions(cmd, spec);
    for (const a of spec.args ?? []) cmd.argument(a);
    for (const f of spec.flags ?? []) {
      if (f.repeatable) cmd.option(f.flags, f.description, (v: string, prev: string[]) => [...prev, v], [] as string[]);
      else cmd.option(f.flags, f.description, f.default);
    }
    if (spec.passThrough) cmd.usage(`[options]${spec.args?.length ? ` ${spec.args.join(' ')}` : ''} [-- <args...>]`);
    for (const sub of spec.subcommands ?? []) add(cmd, sub, `${path} ${sub.name}`);
    const handler = spec.run;
    if (!handler) return;
    const kubeFlags = KUBE_FLAGS.every((k) => spec.flags?.includes(k));
    cmd.action(async (...params: unknown[]) => {
      const c = params[params.length - 1] as Command;
      out = new Output('text', stdout, stderr, path); // what reports an invalid -o itself
      out = new Output(formatFor(c), stdout, stderr, path);
      if (passThrough.length && !spec.passThrough) throw userError(`${path} takes no arguments after --`, `remove '-- ${passThrough.join(' ')}'`);
      const opts = c.opts<Record<string, unknown>>();
      spec.validate?.(opts, c.args);
      let config: Config | undefined;
      const interrupt = new AbortController();
      const warnings = out;
      const base: CommandContext = { out, env, signal: interrupt.signal, config: () => (config ??= loadConfig(configFile(env), (line) => warnings.notice(line))) };
      const stopInterrupts = io.handleInterrupts && !spec.runsDaemon ? onInterrupt(interrupt) : () => undefined;
      try {
        // The one place requirements are met: commands never start daemons themselves.
        if (spec.requires === 'none') {
          exitCode = (await handler(base as DaemonsContext, opts, c.args, passThrough)) ?? 0;
          return;
        }
        // A command that connects on demand does so with its kube flags (connectSession reads `connect`).
        const kube = opts as KubeOptions;
        const ensure: Parameters<typeof ensureDaemons>[1] & ConnectContext = {
          out,
          env,
          startTimeoutMs: base.config().timeouts.daemonStart,
          config: base.config,
          signal: interrupt.signal,
          ...(kubeFlags ? { connect: kubeRequest(env, kube) } : {}),
        };
        const daemons = await ensureDaemons(spec.requires, ensure);
        try {
          if (kubeFlags && spec.requires === 'session') await checkSessionTarget(daemons.userDaemon.client, env, kube);
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
    // Help and --client-version end the parse with exit code 0; help for a missing subcommand is a user error.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_CODES.user;
    const info = err instanceof ParseError ? parseErrorInfo(err.command, err.parserError) : toErrorInfo(err);
    const failed = out ?? parserOutput(program, stdout, stderr, err instanceof ParseError ? err.command : '');
    if (failed.json) failed.errorDocument(info);
    else failed.error(formatError(info, logsDir(env)));
    if (info.category === 'bug' && program.opts().verbose && err instanceof Error) stderr.write(`${err.stack}\n`);
    return EXIT_CODES[info.category];
  }
}

/** Output for an error before any command ran: the format the options asked for, if valid. */
function parserOutput(program: Command, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, command: string): Output {
  let format: OutputFormat = 'text';
  try {
    format = formatOf(program.opts<{ output: string; json?: boolean }>());
  } catch {
    // an invalid -o: the error itself is what to report, as text
  }
  return new Output(format, stdout, stderr, command);
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
