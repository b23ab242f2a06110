// Runs the real CLI parser in process with captured stdout/stderr, for the commands' specs.
import { Writable } from 'node:stream';
import type { AnyCommand } from '../../command.js';
import { run } from '../../run.js';

export interface TpResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function tp(env: NodeJS.ProcessEnv, argv: string[], commands?: AnyCommand[]): Promise<TpResult> {
  let stdout = '';
  let stderr = '';
  const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const code = await run(argv, { stdout: w((s) => (stdout += s)), stderr: w((s) => (stderr += s)), env }, commands);
  return { code, stdout, stderr };
}
