// The traffic agent's own entrypoint, bundled apart from the manager's (AGENT_BUNDLE_PATH in the
// image): `agent` runs the sidecar, `agent-init` the init container that redirects numeric ports.
import { EXIT_CODES, formatError, toErrorInfo, userError } from '@tel/errors';
import { handleBuildInfoFlag } from '@tel/version';

handleBuildInfoFlag('traffic-agent');

async function main(role: string | undefined): Promise<void> {
  if (role === 'agent') return (await import('./agent/run.js')).runAgent(process.env);
  if (role === 'agent-init') {
    process.exitCode = await (await import('./agent-init/run.js')).runAgentInit(process.env);
    return;
  }
  throw userError(`unknown role ${JSON.stringify(role ?? '')}`, 'run the agent bundle with agent or agent-init');
}

main(process.argv[2]).catch((err) => {
  const info = toErrorInfo(err);
  process.stderr.write(`traffic-agent: ${formatError(info)}\n`);
  process.exit(EXIT_CODES[info.category]);
});
