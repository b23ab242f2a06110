// `push-image [--base]`: the Nx push-image target. Pushes `<registry>/tel2:<version>` (or, with
// --base, the Node runtime base it layers on) and records the result in dist/apps/traffic-manager.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES, formatError, toErrorInfo } from '@tel/errors';
import { ImageError } from '@tel/image';
import { readBuildInfo, workspaceRoot } from '@tel/genversion';
import { pushBaseImage, pushTrafficManagerImage } from './image.js';

async function main(argv: string[]): Promise<number> {
  const tty = process.stderr.isTTY && !process.env.CI;
  const progress = tty ? (ev: { phase: string; detail?: string }) => process.stderr.write(`\r\x1b[K${ev.phase} ${ev.detail ?? ''}`) : undefined;
  const json = argv.includes('--output') && argv[argv.indexOf('--output') + 1] === 'json';
  try {
    const root = workspaceRoot();
    const info = readBuildInfo(root);
    const started = performance.now();
    const result = argv.includes('--base') ? await pushBaseImage(info, progress) : await pushTrafficManagerImage(info, join(root, 'dist', 'apps'), progress);
    if (tty) process.stderr.write('\r\x1b[K');
    const seconds = (performance.now() - started) / 1000;
    const record = { ...result, version: info.version, seconds };
    if (!argv.includes('--base')) {
      mkdirSync(join(root, 'dist', 'apps', 'traffic-manager'), { recursive: true });
      writeFileSync(join(root, 'dist', 'apps', 'traffic-manager', 'image.json'), JSON.stringify(record, null, 2) + '\n');
    }
    process.stdout.write(
      json
        ? JSON.stringify(record) + '\n'
        : `pushed ${result.ref}@${result.digest} (${result.uploadedBlobs} blobs uploaded, ${result.skippedBlobs + result.mountedBlobs} already present, ${seconds.toFixed(2)} s)\n`,
    );
    return 0;
  } catch (err) {
    if (tty) process.stderr.write('\r\x1b[K');
    if (err instanceof ImageError) {
      const hint = err.code === 'BASE_NOT_FOUND' ? "push it with 'npx nx run traffic-manager:push-base' (or set TELEPRESENCE_BASE_IMAGE)" : err.hint;
      process.stderr.write(`push-image: ${err.message}${hint ? `; ${hint}` : ''}\n`);
      return EXIT_CODES.cluster;
    }
    const info = toErrorInfo(err);
    process.stderr.write(`push-image: ${formatError(info)}\n`);
    return EXIT_CODES[info.category];
  }
}

process.exitCode = await main(process.argv.slice(2));
