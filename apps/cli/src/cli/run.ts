// Builds the parser from the command list, runs one command and maps errors to exit codes.
import { Command, CommanderError, Option } from 'commander';
import { EXIT_CODES, formatError, toErrorInfo } from '@tel/errors';
import { buildVersion } from '@tel/version';
import { loadConfig, type Config } from '../config/config.js';
import { configFile, logsDir } from '../paths.js';
import type { CommandContext, CommandSpec } from './command.js';
import { COMMANDS } from './commands/index.js';
import { Output, type OutputFormat } from './output.js';

export interface RunIO {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

export async function run(argv: string[], io: RunIO = {}, commands: CommandSpec<any>[] = COMMANDS): Promise<number> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let exitCode = 0;
  let out = new Output('text', stdout, stderr);
  const program = new Command('telepresence')
    .description('Connect your workstation to a Kubernetes cluster')
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) })
    .addOption(new Option('-o, --output <format>', 'output format').choices(['default', 'json']).default('default'))
    .option('--verbose', 'print stack traces of unexpected errors');
  program.version(buildVersion, '--client-version', 'print the client version only');

  for (const spec of commands) {
    const cmd = program.command(spec.name, { hidden: spec.hidden }).description(spec.description);
    for (const a of spec.args ?? []) cmd.argument(a);
    for (const f of spec.flags ?? []) cmd.option(f.flags, f.description, f.default as string | boolean | undefined);
    cmd.action(async (...params: unknown[]) => {
      const globals = program.opts<{ output: string }>();
      out = new Output((globals.output === 'default' ? 'text' : globals.output) as OutputFormat, stdout, stderr);
      let config: Config | undefined;
      const ctx: CommandContext = { out, env, config: () => (config ??= loadConfig(configFile(env))) };
      const c = params[params.length - 1] as Command;
      const code = await spec.run(ctx, c.opts(), c.args);
      exitCode = typeof code === 'number' ? code : 0;
    });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; parse errors were already printed by commander.
      return err.exitCode === 0 ? 0 : EXIT_CODES.user;
    }
    const info = toErrorInfo(err);
    if (out.json) stdout.write(JSON.stringify({ error: info }) + '\n');
    else out.error(formatError(info, logsDir(env)));
    if (info.category === 'bug' && program.opts().verbose && err instanceof Error) stderr.write(`${err.stack}\n`);
    return EXIT_CODES[info.category];
  }
}

