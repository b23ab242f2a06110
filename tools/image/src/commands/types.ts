// The shape every tel-image command is declared with: data (name, usage, options) plus a handler.
import type { ParseArgsConfig } from 'node:util';
import type { ProgressEvent } from '../build.js';

export interface CommandIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Progress is drawn only when stderr is a terminal. */
  stderrIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface CommandContext {
  io: CommandIO;
  json: boolean;
  /** Undefined when progress is off (not a TTY): callers pass it straight to buildAndPush. */
  onProgress?: (ev: ProgressEvent) => void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Positional arguments the command takes (for the usage check). */
  positionals: { min: number; max: number };
  run(values: Record<string, string | boolean | undefined>, positionals: string[], ctx: CommandContext): Promise<void>;
}
