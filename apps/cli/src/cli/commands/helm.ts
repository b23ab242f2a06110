// `telepresence helm install|upgrade|uninstall`: the 2.x command names, but no helm binary and no
// helm release record. Why: the traffic manager is a handful of fixed objects, and a release record
// can disagree with the cluster (2.x skipped install while a stale release secret existed, digest
// item 3). Install state is read from the live Deployment only; see apps/cli/src/install/README.md.
import { homedir } from 'node:os';
import { userError } from '@tel/errors';
import { buildVersion } from '@tel/version';
import { parseDuration } from '../../config/config.js';
import { resolveImage } from '../../config/registry.js';
import { DEFAULT_MANAGER_NAMESPACE } from '../../install/manifests.js';
import { loadKubeconfig } from '../../kube/kubeconfig.js';
import { defineCommand } from '../command.js';

interface HelmOpts {
  managerNamespace?: string;
  kubeconfig?: string;
  context?: string;
  timeout: string;
}

const ACTIONS = ['install', 'upgrade', 'uninstall'] as const;

export const helmCommand = defineCommand<HelmOpts>({
  name: 'helm',
  description: 'Install, upgrade or uninstall the Traffic Manager (<cmd>: install, upgrade, uninstall)',
  args: ['<cmd>'],
  flags: [
    {
      flags: '-n, --manager-namespace <namespace>',
      description: `namespace of the Traffic Manager (default: the kubeconfig's telepresence.io manager.namespace, else ${DEFAULT_MANAGER_NAMESPACE})`,
    },
    { flags: '--kubeconfig <files>', description: 'kubeconfig file(s) (default: $KUBECONFIG or ~/.kube/config)' },
    { flags: '--context <name>', description: 'kubeconfig context to use (default: the current one)' },
    { flags: '--timeout <duration>', description: 'how long to wait for the Traffic Manager to be ready or gone', default: '2m' },
  ],
  async run(ctx, opts, args) {
    const action = args[0] as (typeof ACTIONS)[number];
    if (!ACTIONS.includes(action)) throw userError(`unknown helm action ${JSON.stringify(args[0] ?? '')}`, `use one of: ${ACTIONS.join(', ')}`);
    const timeoutMs = parseDuration(opts.timeout);
    if (timeoutMs === undefined) throw userError(`invalid --timeout ${JSON.stringify(opts.timeout)}`, "use a duration such as '90s' or '2m'");
    // The same kubeconfig reading as connect: KUBECONFIG lists, --context, the telepresence.io extension.
    const kube = loadKubeconfig({
      home: ctx.env.HOME || homedir(),
      ...(opts.kubeconfig || ctx.env.KUBECONFIG ? { kubeconfigEnv: opts.kubeconfig || ctx.env.KUBECONFIG } : {}),
      ...(opts.context ? { context: opts.context } : {}),
    });
    const kc = kube.kc;
    const namespace = opts.managerNamespace || kube.extension.managerNamespace || DEFAULT_MANAGER_NAMESPACE;
    // Loaded on use: the install code is only needed here.
    const { installManager, uninstallManager, upgradeManager } = await import('../../install/index.js');
    const onProgress = (m: string) => (m.startsWith('warning: ') ? ctx.out.notice(m) : ctx.out.progress(m));
    try {
      if (action === 'uninstall') {
        const r = await uninstallManager(kc, { namespace, timeoutMs, onProgress });
        ctx.out.progressDone();
        ctx.out.result({ action, namespace, ...r }, () => {
          if (r.removed.length === 0) return `No Traffic Manager was installed in namespace ${namespace}`;
          const kept = r.keptNamespace ? `\nNamespace ${namespace} was kept: other workloads run in it` : '';
          return `Traffic Manager uninstalled from namespace ${namespace} (removed ${r.removed.join(', ')})${kept}`;
        });
        return;
      }
      const { image } = resolveImage(ctx.config(), buildVersion, ctx.env);
      const fn = action === 'install' ? installManager : upgradeManager;
      const r = await fn(kc, { namespace, image, version: buildVersion, timeoutMs, onProgress });
      ctx.out.progressDone();
      ctx.out.result({ action: r.action, version: r.version, namespace, image }, () =>
        r.action === 'none'
          ? `Traffic Manager ${r.version} is already installed and ready in namespace ${namespace}`
          : `Traffic Manager ${r.version} ${r.action} in namespace ${namespace} (${image})`,
      );
    } finally {
      ctx.out.progressDone();
    }
  },
});
