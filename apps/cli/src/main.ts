// The `telepresence` command: argv → context → run → exit code. Nothing else lives here.
import { handleBuildInfoFlag } from '@tel/version';
import { run } from './cli/run.js';

handleBuildInfoFlag('cli');
process.exitCode = await run(process.argv.slice(2), { handleInterrupts: true });
