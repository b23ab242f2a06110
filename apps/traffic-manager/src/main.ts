// The cluster image's entrypoint: `manager` runs the traffic manager, `agent` the traffic agent,
// `version` prints the build. One image, one version, both roles.
import { EXIT_CODES, formatError, toErrorInfo, userError } from '@tel/errors';
import { handleBuildInfoFlag } from '@tel/version';
import { runRole, ROLES } from './roles.js';

handleBuildInfoFlag('traffic-manager');

async function main(argv: string[]): Promise<void> {
  const role = argv[0];
  if (!role || !(role in ROLES)) {
    throw userError(`unknown role ${JSON.stringify(role ?? '')}`, `run the image with one of: ${Object.keys(ROLES).join(', ')}`);
  }
  await runRole(role as keyof typeof ROLES, process.env);
}

main(process.argv.slice(2)).catch((err) => {
  const info = toErrorInfo(err);
  process.stderr.write(`traffic-manager: ${formatError(info)}\n`);
  process.exit(EXIT_CODES[info.category]);
});
