// `tel-image push --spec spec.json --target REF`: build an image from a JSON BuildSpec and push it.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { buildAndPush, type BuildSpec } from '../build.js';
import { ImageError } from '../errors.js';
import { printPushResult } from './format.js';
import type { Command } from './types.js';

/** Reads a spec file; relative sourcePath entries are relative to the spec file, not to the shell's cwd. */
export async function readSpecFile(file: string): Promise<BuildSpec> {
  let spec: BuildSpec;
  try {
    spec = JSON.parse(await fs.readFile(file, 'utf8')) as BuildSpec;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ImageError(`cannot read build spec ${file} (${why})`, 'pass a JSON file with {"base"?, "layers": [[{"path", "content" | "sourcePath"}]]}', {
      code: 'INVALID_SPEC', cause: err,
    });
  }
  if (!spec || !Array.isArray(spec.layers)) {
    throw new ImageError(`build spec ${file} has no "layers" array`, 'add "layers": [[{"path": "/app/x.js", "sourcePath": "dist/x.js"}]]', { code: 'INVALID_SPEC' });
  }
  const dir = path.dirname(path.resolve(file));
  for (const layer of spec.layers) {
    for (const e of layer) if (e.sourcePath && !path.isAbsolute(e.sourcePath)) e.sourcePath = path.join(dir, e.sourcePath);
  }
  return spec;
}

export const pushCommand: Command = {
  name: 'push',
  summary: 'build an image from a JSON build spec and push it (manifest by digest first, tag last)',
  usage: 'tel-image push --spec <spec.json> --target <ref> [--output json]',
  options: {
    spec: { type: 'string' },
    target: { type: 'string' },
  },
  positionals: { min: 0, max: 0 },
  async run(values, _positionals, ctx) {
    const specFile = values.spec as string | undefined;
    const target = values.target as string | undefined;
    if (!specFile || !target) throw new ImageError('push needs --spec and --target', `usage: ${this.usage}`, { code: 'INVALID_SPEC' });
    const started = performance.now();
    const spec = await readSpecFile(path.resolve(ctx.io.cwd, specFile));
    const res = await buildAndPush(spec, target, ctx.onProgress ? { onProgress: ctx.onProgress } : {});
    printPushResult(ctx, res, (performance.now() - started) / 1000);
  },
};
