// `genversion`: compute this build's version once and write dist/version/version.json.
// Usage: genversion [--print] [--output json]
import { formatError, toErrorInfo, EXIT_CODES } from '@tel/errors';
import { computeBuildInfo, writeBuildInfo } from './build-info.js';
import { workspaceRoot } from './workspace.js';

async function main(argv: string[]): Promise<number> {
  try {
    const info = await computeBuildInfo(workspaceRoot());
    if (!argv.includes('--print')) writeBuildInfo(workspaceRoot(), info);
    if (argv.includes('--output') && argv[argv.indexOf('--output') + 1] === 'json') {
      process.stdout.write(JSON.stringify(info) + '\n');
    } else {
      process.stdout.write(`${info.version} (${info.source}${info.dirty ? ', dirty' : ''}) registry ${info.registry}\n`);
    }
    return 0;
  } catch (err) {
    const info = toErrorInfo(err);
    process.stderr.write(`genversion: ${formatError(info)}\n`);
    return EXIT_CODES[info.category];
  }
}

process.exitCode = await main(process.argv.slice(2));
