// `build <app> [--outdir DIR]`: the Nx `build` target of every app.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES, formatError, toErrorInfo, userError } from '@tel/errors';
import { readBuildInfo } from '@tel/genversion';
import { workspaceRoot } from '@tel/genversion';
import { APPS, bundleApp, type AppName } from './bundle.js';

async function main(argv: string[]): Promise<number> {
  try {
    const [app] = argv;
    if (!app || !(app in APPS)) throw userError(`unknown app ${JSON.stringify(app)}`, `use one of ${Object.keys(APPS).join(', ')}`);
    const root = workspaceRoot();
    const info = readBuildInfo(root);
    const outdirIdx = argv.indexOf('--outdir');
    const outRoot = outdirIdx >= 0 ? argv[outdirIdx + 1]! : join(root, 'dist', 'apps');
    const file = await bundleApp(root, app as AppName, info, outRoot);
    chmodSync(file, 0o755);
    process.stdout.write(`${app}: ${file} (${info.version})\n`);
    return 0;
  } catch (err) {
    const info = toErrorInfo(err);
    process.stderr.write(`build: ${formatError(info)}\n`);
    return EXIT_CODES[info.category];
  }
}

process.exitCode = await main(process.argv.slice(2));
