// Running commands "on the workstation" (its network namespace + private mount namespace, where
// its own systemd-resolved answers DNS) or "on the node" (the node's namespaces).
import { spawn, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Layout } from './layout.js';
import { kubeCacheDir, toolsBinDir } from './kubectl.js';
import { createClusterCgroup } from './cgroups.js';
import { nodePaths } from './configs.js';
import { livePid } from './proc.js';
import { flavourPrefix, type ResolvConfOverride, type ResolverFlavour } from './workstation-etc.js';

export interface NsExecOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Which kubeconfig KUBECONFIG points at (workstation only); default admin. */
  user?: 'admin' | 'developer';
  input?: string;
  timeoutMs?: number;
  /** Inherit stdio instead of capturing (the CLI's `exec`). */
  inherit?: boolean;
  /**
   * Workstation only: how glibc resolves names for this command. Default `stub` (the
   * workstation's own Debian/Ubuntu style); `nss-resolve` runs it in the Fedora style.
   */
  resolver?: ResolverFlavour;
  /** Workstation only: run the command (and any daemon it starts) with a broken resolv.conf. */
  resolvConf?: ResolvConfOverride;
}

export interface NsExecResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function nsenterArgs(l: Layout, which: 'ws' | 'node', cmd: string, args: string[], cwd?: string): string[] {
  const holder = livePid(l.pidDir, which === 'ws' ? 'ws-holder' : 'node-holder');
  if (!holder) throw new Error(`the test cluster is not up (no ${which} namespace holder); run: node --import tsx tools/testcluster/src/cli.ts up`);
  const wd = cwd && existsSync(`/proc/${holder}/root${cwd}`) ? cwd : '/';
  return ['-t', String(holder), '-m', '-n', `--wd=${wd}`, '--', cmd, ...args];
}

export function nsExec(l: Layout, which: 'ws' | 'node', cmd: string, args: string[], opts: NsExecOptions = {}): Promise<NsExecResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  if (which === 'ws' && !opts.env?.KUBECONFIG) env.KUBECONFIG = opts.user === 'developer' ? l.developerKubeconfig : l.adminKubeconfig;
  if (!opts.env?.KUBECACHEDIR) env.KUBECACHEDIR = kubeCacheDir(l);
  // Our kubectl (same version as the cluster) before any other on PATH.
  env.PATH = `${toolsBinDir(l)}:${env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;
  const prefix = which === 'ws' ? flavourPrefix(opts.resolver ?? 'stub', nodePaths(l).wsDir, opts.resolvConf ? { resolvConf: opts.resolvConf } : {}) : [];
  const argv = [...prefix, cmd, ...args];
  const nsArgs = nsenterArgs(l, which, argv[0]!, argv.slice(1), opts.cwd ?? process.cwd());
  const spawnOpts: SpawnOptions = { env, stdio: opts.inherit ? 'inherit' : [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] };
  // Join the cluster's exec cgroup first: whatever the command leaves running (a daemon a test
  // started on the workstation) is ended by `down` with the rest of the cluster.
  const procs = existsSync(`/sys/fs/cgroup/pids/${l.cgroup}`) ? createClusterCgroup(l.cgroup, 'exec') : [];
  env.TPTC_CGROUP_PROCS = procs.join(' ');
  const script = 'for f in $TPTC_CGROUP_PROCS; do echo $$ > "$f" || exit 97; done; unset TPTC_CGROUP_PROCS; exec nsenter "$@"';
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', script, 'sh', ...nsArgs], spawnOpts);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? 128, signal, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // the command may exit without reading its input
      child.stdin.end(opts.input);
    }
  });
}
