// `tel-image base-node --target REF`: push the Node runtime base image made from the host's node binary.
import { buildAndPush } from '../build.js';
import { nodeBaseSpec } from '../node-base.js';
import { ImageError } from '../errors.js';
import { printPushResult } from './format.js';
import type { Command } from './types.js';

export const baseNodeCommand: Command = {
  name: 'base-node',
  summary: "push a Node runtime base image built from the host's node binary, its libraries and CA certificates",
  usage: 'tel-image base-node --target <ref> [--node /usr/bin/node] [--created <RFC 3339>] [--output json]',
  options: {
    target: { type: 'string' },
    node: { type: 'string' },
    created: { type: 'string' },
  },
  positionals: { min: 0, max: 0 },
  async run(values, _positionals, ctx) {
    const target = values.target as string | undefined;
    if (!target) throw new ImageError('base-node needs --target', 'pass e.g. --target 127.0.0.1:5000/tel2-base:node-v20', { code: 'INVALID_SPEC' });
    const started = performance.now();
    const spec = nodeBaseSpec({
      ...(values.node ? { nodeBinary: values.node as string } : {}),
      ...(values.created ? { created: values.created as string } : {}),
    });
    const res = await buildAndPush(spec, target, ctx.onProgress ? { onProgress: ctx.onProgress } : {});
    printPushResult(ctx, res, (performance.now() - started) / 1000);
  },
};
