// tel-image CLI entry: argv → command → exit code. Commands live in commands/, one file each.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ImageError, IMAGE_EXIT_CODES } from './errors.js';
import { baseNodeCommand } from './commands/base-node.js';
import { inspectCommand } from './commands/inspect.js';
import { pushCommand } from './commands/push.js';
import type { Command, CommandIO } from './commands/types.js';

export const COMMANDS: Command[] = [baseNodeCommand, pushCommand, inspectCommand];

export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'tel-image: build OCI images without a Docker engine and push them to a registry',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Usage:',
    ...COMMANDS.map((c) => `  ${c.usage}`),
    '',
    'Registries on 127.0.0.1/localhost/[::1] and those in TELEPRESENCE_REGISTRY_INSECURE=host:port,... use plain HTTP.',
    'Credentials come from $DOCKER_CONFIG/config.json or ~/.docker/config.json.',
    '',
  ].join('\n');
}

function usageError(message: string, hint = "run 'tel-image --help'"): ImageError {
  return new ImageError(message, hint, { code: 'INVALID_SPEC' });
}

/** Runs the CLI in-process; returns the exit code. Errors print as one line: "tel-image: what; how to fix". */
export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(helpText());
    return name ? 0 : 2;
  }
  try {
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) throw usageError(`unknown command '${name}'`);
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...cmd.options, output: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw usageError((err as Error).message.split(/\.\s|\n/)[0] ?? 'invalid arguments', `usage: ${cmd.usage}`);
    }
    if (parsed.values.help) {
      io.stdout(`${cmd.summary}\n\nUsage: ${cmd.usage}\n`);
      return 0;
    }
    const output = parsed.values.output;
    if (output !== undefined && output !== 'json' && output !== 'text') throw usageError(`--output must be json or text, not '${output}'`, `usage: ${cmd.usage}`);
    if (parsed.positionals.length < cmd.positionals.min || parsed.positionals.length > cmd.positionals.max) {
      throw usageError(`${cmd.name} takes ${cmd.positionals.min === cmd.positionals.max ? cmd.positionals.min : `${cmd.positionals.min}-${cmd.positionals.max}`} argument(s), got ${parsed.positionals.length}`, `usage: ${cmd.usage}`);
    }
    const onProgress = io.stderrIsTTY ? (ev: { phase: string; detail?: string }) => io.stderr(`\r\x1b[K${ev.phase} ${ev.detail ?? ''}`) : undefined;
    try {
      await cmd.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals, {
        io,
        json: output === 'json',
        ...(onProgress ? { onProgress } : {}),
      });
    } finally {
      if (onProgress) io.stderr('\r\x1b[K');
    }
    return 0;
  } catch (err) {
    if (err instanceof ImageError) {
      io.stderr(`tel-image: ${err.line}\n`);
      return IMAGE_EXIT_CODES[err.category];
    }
    const e = err as Error;
    io.stderr(`tel-image: ${e?.message ?? String(err)} (this is a bug${io.env.TEL_IMAGE_VERBOSE ? `: ${e?.stack}` : '; set TEL_IMAGE_VERBOSE=1 for a stack trace'})\n`);
    return IMAGE_EXIT_CODES.bug;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const code = await main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    env: process.env,
    cwd: process.cwd(),
  });
  process.exitCode = code;
}
