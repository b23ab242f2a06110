// Commands are data: name, flags, what they need, and a handler. main.ts turns the list into the
// parser; ensureDaemons() is called here, once, for commands that need daemons.
import type { Config } from '../config/config.js';
import type { Output } from './output.js';

export interface Flag {
  /** Commander flag syntax, e.g. '-s, --stop-daemons'. */
  flags: string;
  description: string;
  default?: string | boolean;
}

export interface CommandContext {
  out: Output;
  /** Loaded lazily: a broken config.yml must not stop `telepresence quit`. */
  config(): Config;
  env: NodeJS.ProcessEnv;
}

export interface CommandSpec<O = Record<string, unknown>> {
  name: string;
  description: string;
  flags?: Flag[];
  args?: string[];
  hidden?: boolean;
  run(ctx: CommandContext, opts: O, args: string[]): Promise<number | void>;
}

export function defineCommand<O>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}
