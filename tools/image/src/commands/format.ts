// Human and JSON renderings of command results (the CLI's output layer).
import type { PushResult } from '../build.js';
import type { CommandContext } from './types.js';

export function printPushResult(ctx: CommandContext, res: PushResult, seconds: number): void {
  if (ctx.json) {
    ctx.io.stdout(`${JSON.stringify({ ...res, seconds: Number(seconds.toFixed(3)) })}\n`);
    return;
  }
  const mib = (res.bytesUploaded / 1024 / 1024).toFixed(1);
  ctx.io.stdout(
    `pushed ${res.ref}@${res.digest}\n` +
      `  ${res.uploadedBlobs} blobs uploaded (${mib} MiB), ${res.mountedBlobs} mounted, ${res.skippedBlobs} already present, ${seconds.toFixed(2)} s\n`,
  );
}
