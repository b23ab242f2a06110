// `telepresence gather-logs [-o|--output-file FILE.zip] [--daemons all|user|root|none]
// [--traffic-manager] [--anonymize]`: the daemons' logs and, on request, the traffic manager's and
// traffic agents' (read with the user's kubeconfig) in one zip, as 2.x gathers them.
import { resolve } from 'node:path';
import { DEFAULT_MANAGER_NAMESPACE } from '@tel/contracts';
import { managerNamespaceFor } from '../../kube/extension.js';
import { Anonymizer } from '../../logs/anonymize.js';
import type { LogEntry } from '../../logs/cluster-logs.js';
import { addWorkstationNames, checkZipPath, defaultZipName, localLogs, parseDaemons, writeZip } from '../../logs/gather.js';
import { logsDir } from '../../paths.js';
import { defineCommand, KUBE_FLAGS } from '../command.js';

export const gatherLogsCommand = defineCommand({
  name: 'gather-logs',
  description: 'Gather the logs of the daemons (and with --traffic-manager of the traffic manager and agents) into a zip file',
  requires: 'none',
  flags: [
    { flags: '-o, --output-file <file>', description: 'the zip file to write (default: telepresence_logs_<time>.zip in the current directory)' },
    { flags: '--daemons <which>', description: 'the daemons whose logs to include: all, user, root or none (comma-separated)', default: 'all' },
    { flags: '--traffic-manager', description: "include the traffic manager's and the traffic agents' logs, read with your kubeconfig" },
    { flags: '-a, --anonymize', description: 'replace user, host, pod, workload and namespace names and pod IPs with placeholders' },
    { flags: '--manager-namespace <namespace>', description: `namespace of the traffic manager (default: the kubeconfig's telepresence.io manager.namespace, else ${DEFAULT_MANAGER_NAMESPACE})` },
    ...KUBE_FLAGS,
  ],
  validate(opts) {
    parseDaemons(opts.daemons);
    if (opts.outputFile !== undefined) checkZipPath(resolve(opts.outputFile));
  },
  async run(ctx, opts) {
    // 1. Everything that can be wrong with the input, before anything is read or written.
    const file = resolve(opts.outputFile ?? defaultZipName());
    checkZipPath(file);
    const names = parseDaemons(opts.daemons);
    // Loaded on use: the Kubernetes client stays out of every other command's start.
    const access = opts.trafficManager ? await import('./kube-access.js') : undefined;
    const kube = access?.kubeFor(ctx, opts);
    const anonymizer = opts.anonymize ? new Anonymizer() : undefined;
    const warnings: string[] = [];
    const entries: LogEntry[] = [];
    // 2. The cluster first (as 2.x): what goes wrong there lands in the CLI's own log before it is read.
    if (kube) {
      if (anonymizer) {
        anonymizer.add('user', kube.kc.getCurrentUser()?.name);
        anonymizer.add('host', new URL(kube.server).hostname);
      }
      const managerNamespace = managerNamespaceFor(opts.managerNamespace, kube.extension);
      const { gatherClusterLogs } = await import('../../logs/cluster-logs.js');
      const cluster = await gatherClusterLogs(kube, managerNamespace, (what, call) => access!.kubeRead(kube, what, call, ctx.signal), anonymizer);
      entries.push(...cluster.entries);
      warnings.push(...cluster.warnings);
    }
    entries.unshift(...localLogs(logsDir(ctx.env), names));
    // 3. Names of the workstation last: they may occur in any file, cluster ones included.
    if (anonymizer) addWorkstationNames(anonymizer, ctx.env);
    const out = anonymizer ? entries.map((e) => ({ ...e, name: anonymizer.apply(e.name), content: anonymizer.apply(e.content) })) : entries;
    for (const w of warnings) ctx.out.notice(`gather-logs: ${anonymizer ? anonymizer.apply(w) : w}`);
    // 4. The zip, written whole or not at all.
    const written = await writeZip(file, out);
    ctx.out.result({ file, entries: written.map((w) => ({ name: w.name, bytes: w.bytes })), anonymized: !!anonymizer, warnings: anonymizer ? warnings.map((w) => anonymizer.apply(w)) : warnings }, () =>
      written.length ? `Logs have been exported to ${file} (${written.map((w) => w.name).join(', ')})` : `No logs found; ${file} is an empty zip`,
    );
  },
});
