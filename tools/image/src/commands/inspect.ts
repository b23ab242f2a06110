// `tel-image inspect REF`: print an image's digest, manifest and config as JSON.
import { inspectImage } from '../inspect.js';
import { ImageError } from '../errors.js';
import type { Command } from './types.js';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: "print an image's manifest digest, manifest and config as JSON",
  usage: 'tel-image inspect <ref> [--platform linux/amd64]',
  options: {
    platform: { type: 'string' },
  },
  positionals: { min: 1, max: 1 },
  async run(values, positionals, ctx) {
    const ref = positionals[0]!;
    let platform: { os: string; architecture: string } | undefined;
    if (values.platform) {
      const [os, architecture] = String(values.platform).split('/');
      if (!os || !architecture) throw new ImageError(`platform '${values.platform}' is not os/arch`, 'pass e.g. --platform linux/amd64', { code: 'INVALID_SPEC' });
      platform = { os, architecture };
    }
    const res = await inspectImage(ref, platform ? { platform } : {});
    ctx.io.stdout(`${JSON.stringify({ ref, ...res }, null, ctx.json ? undefined : 2)}\n`);
  },
};
