// e2e-only image entry: the image's roles as main.ts runs them, plus the injector next to the
// manager role. Stands in until run.ts starts the injector itself; then the e2e uses the real
// image and this file goes.
import { KubeConfig } from '@kubernetes/client-node';
import { AGENT_IMAGE_ENV } from '@tel/agent-config';
import { createLogger } from '@tel/logging';
import { runRole, ROLES } from '../../../roles.js';
import { startInjector } from '../index.js';

const role = process.argv[2] as keyof typeof ROLES;
if (!(role in ROLES)) {
  process.stderr.write(`unknown role ${role}\n`);
  process.exit(2);
}
await runRole(role, process.env);
if (role === 'manager') {
  const log = createLogger('manager', { stream: process.stdout, level: 'debug' });
  const kc = new KubeConfig();
  kc.loadFromCluster();
  const injector = await startInjector({ kc, namespace: process.env.POD_NAMESPACE ?? 'ambassador', log, agentImage: process.env[AGENT_IMAGE_ENV] ?? '' });
  await injector.ready;
  log.info('injector ready');
}
