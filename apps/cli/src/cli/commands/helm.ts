// `telepresence helm install|upgrade|uninstall`: the 2.x command names, but no helm binary and no
// helm release record. Why: the traffic manager is a handful of fixed objects, and a release record
// can disagree with the cluster (2.x skipped install while a stale release secret existed). Install
// state is read from the live Deployment only; see apps/cli/src/install/README.md.
import { userError } from '@tel/errors';
import { buildVersion } from '@tel/version';
import { parseDuration } from '../../config/config.js';
import { resolveImage } from '../../config/registry.js';
import { managerNamespaceFor } from '../../kube/extension.js';
import { progressEvent } from '../../userd/manager-install.js';
import { defineCommand, KUBE_FLAGS, kubeconfigSource, MANAGER_NAMESPACE_FLAG, type CommandContext, type OptionsOf } from '../command.js';

/** The flags every helm subcommand takes. */
const HELM_FLAGS = [
  MANAGER_NAMESPACE_FLAG,
  ...KUBE_FLAGS,
  { flags: '--timeout <duration>', description: 'how long to wait for the Traffic Manager to be ready or gone', default: '2m' },
] as const;

type HelmAction = 'install' | 'upgrade' | 'uninstall';

async function runHelm(action: HelmAction, ctx: CommandContext, opts: OptionsOf<typeof HELM_FLAGS>): Promise<void> {
  const timeoutMs = parseDuration(opts.timeout);
  if (timeoutMs === undefined) throw userError(`invalid --timeout ${JSON.stringify(opts.timeout)}`, "use a duration such as '90s' or '2m'");
  // The same kubeconfig reading as connect: KUBECONFIG lists, --context, the telepresence.io extension.
  const { loadKubeconfig } = await import('../../kube/kubeconfig.js'); // loaded on use, as the install code below
  const kube = loadKubeconfig(kubeconfigSource(ctx.env, opts));
  const kc = kube.kc;
  const namespace = managerNamespaceFor(opts.managerNamespace, kube.extension);
  // Loaded on use: the install code is only needed here.
  const { installManager, uninstallManager, upgradeManager } = await import('../../install/index.js');
  const show = ctx.out.events();
  const onProgress = (m: string) => show(progressEvent(m));
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
  const r = await fn(kc, { namespace, image, version: buildVersion, timeoutMs, onProgress, signal: ctx.signal });
  ctx.out.progressDone();
  ctx.out.result({ action: r.action, version: r.version, namespace, image }, () =>
    r.action === 'none'
      ? `Traffic Manager ${r.version} is already installed and ready in namespace ${namespace}`
      : `Traffic Manager ${r.version} ${r.action} in namespace ${namespace} (${image})`,
  );
}

const helmSubcommand = (action: HelmAction, description: string) =>
  defineCommand({ name: action, description, requires: 'none', flags: HELM_FLAGS, run: (ctx, opts) => runHelm(action, ctx, opts) });

export const helmCommand = defineCommand({
  name: 'helm',
  description: 'Install, upgrade or uninstall the Traffic Manager',
  requires: 'none',
  subcommands: [
    helmSubcommand('install', 'Install the Traffic Manager of this version (nothing to do when it runs already)'),
    helmSubcommand('upgrade', 'Install the Traffic Manager of this version, replacing one of another version'),
    helmSubcommand('uninstall', 'Remove the Traffic Manager and what its install created'),
  ],
});
