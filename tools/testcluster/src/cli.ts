// tptc: the test cluster's command line (up, down, status, exec). Wires argv to the cluster
// module and maps failures to one actionable line and an exit code.
import { PrereqError, down, up, withLock } from './cluster.js';
import { createProgress } from './progress.js';
import { ensureBinaries, missingUpstream } from './build.js';
import { nsExec } from './exec.js';
import { checkPrereqs, formatMissing } from './prereqs.js';
import { defaultLayout } from './layout.js';
import { clusterStatus, formatStatus } from './status.js';

const USAGE = `usage: cli.ts <command>
  up [--output json]        start the cluster (no-op when it is already up) and wait until Ready
  down [--output json]      remove everything the cluster created
  status [--output json] [--check]
                            component states, memory, kubeconfig paths (--check: exit 1 unless up)
  build [--output json]     build (or find cached) all binaries, without starting anything
  exec [--as developer] [--node] -- CMD [ARGS...]
                            run CMD on the workstation (its network + mount namespace, KUBECONFIG
                            set to the admin, or the developer with --as developer); --node runs it
                            in the node's namespaces instead
every command takes --instance NAME (or TPTC_INSTANCE): a separate cluster with its own namespaces,
state and registry port; without it, the shared default instance
environment: TPTC_CACHE_DIR (binaries, registry; default ~/.cache/telepresence-testcluster),
             TPTC_STATE_DIR (runtime state and logs; default <cache>/state)`;

const progress = createProgress({ write: (s) => process.stderr.write(s), live: !!process.stderr.isTTY && !process.env.CI, prefix: '[testcluster] ' });
const log = progress.log;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const json = rest.includes('--output') && rest[rest.indexOf('--output') + 1] === 'json';
  const sepAt = rest.indexOf('--');
  const instAt = rest.indexOf('--instance');
  const instance = instAt >= 0 && (sepAt < 0 || instAt < sepAt) ? rest[instAt + 1] : undefined;
  const l = defaultLayout(process.env, instance ?? process.env.TPTC_INSTANCE ?? '');
  const out = (human: string, data: unknown) => process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : human + '\n');
  switch (cmd) {
    case 'up': {
      const r = await withLock(l, () => up(l, json ? () => {} : log));
      out(r.alreadyUp ? 'cluster already up' : `cluster up in ${r.seconds.toFixed(1)}s`, { ...r, adminKubeconfig: l.adminKubeconfig, developerKubeconfig: l.developerKubeconfig, registry: l.registry });
      return 0;
    }
    case 'down': {
      const r = await withLock(l, () => down(l, json ? () => {} : log));
      out(`cluster down in ${r.seconds.toFixed(1)}s`, r);
      return 0;
    }
    case 'status': {
      const s = await clusterStatus(l);
      out(formatStatus(s), s);
      // Exit 0 whatever the state (scripts read `state` from --output json); --check fails unless up.
      return rest.includes('--check') && s.state !== 'up' ? 1 : 0;
    }
    case 'build': {
      const t = Date.now();
      const missing = (await checkPrereqs(l, { checkPorts: false })).filter((m) => !m.what.startsWith('free port'));
      if (missing.length > 0) throw new PrereqError(missing.map(formatMissing));
      const cachedBefore = missingUpstream(l).length === 0;
      const bins = await ensureBinaries(l, json ? () => {} : log);
      const seconds = (Date.now() - t) / 1000;
      out(`binaries ready in ${seconds.toFixed(1)}s${cachedBefore ? ' (upstream cached)' : ''}: ${l.binDir}`, { seconds, upstreamCached: cachedBefore, ...bins });
      return 0;
    }
    case 'exec': {
      const sep = rest.indexOf('--');
      const flags = sep >= 0 ? rest.slice(0, sep) : [];
      const command = sep >= 0 ? rest.slice(sep + 1) : rest;
      if (command.length === 0) throw new UsageError('exec needs a command, e.g. exec -- kubectl get pods');
      const asIdx = flags.indexOf('--as');
      const user = asIdx >= 0 ? flags[asIdx + 1] : 'admin';
      if (user !== 'admin' && user !== 'developer') throw new UsageError(`--as ${user}: expected admin or developer`);
      const r = await nsExec(l, flags.includes('--node') ? 'node' : 'ws', command[0]!, command.slice(1), { user, inherit: true });
      return r.code;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return cmd ? 0 : 2;
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => {
    progress.stop();
    process.exit(code);
  },
  (err: unknown) => {
    progress.stop();
    if (err instanceof PrereqError) {
      for (const line of err.lines) process.stderr.write(line + '\n');
      process.exit(3);
    }
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      process.exit(2);
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`testcluster: ${msg}\n`);
    if (process.env.TPTC_VERBOSE && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(4);
  },
);
