// Binaries of the test cluster: upstream Kubernetes components and CoreDNS built from the Go
// module proxy (slow, cached per version), and our own small Go programs (fast, cached by a hash
// of their sources). Nothing is rebuilt when the cache already holds it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARGO_ROLLOUTS_VERSION, type ArgoRollouts, argoRolloutsCached, argoRolloutsDir, argoRolloutsPaths } from './argo-rollouts.js';
import { COREDNS_VERSION, K8S_VERSION, cacheRoot, type Layout } from './layout.js';
import { run } from './proc.js';
import type { Log } from './progress.js';

export const TOOL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

export const UPSTREAM_BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'kubectl', 'coredns'] as const;
export type UpstreamBinary = (typeof UPSTREAM_BINARIES)[number];

/**
 * Our Go programs: the host-side helper, and the binaries of the pause, demo and mesh stand-in
 * images (mesh-proxy is a module of its own: it writes nftables rules with github.com/google/nftables).
 */
export const OWN_PROGRAMS = { helper: './helper', pause: './images/pause', 'demo-server': './images/demo-server', 'mesh-proxy': './images/mesh-proxy' } as const;
export type OwnProgram = keyof typeof OWN_PROGRAMS;

export interface Binaries {
  upstream: Record<UpstreamBinary, string>;
  own: Record<OwnProgram, string>;
  argoRollouts: ArgoRollouts;
}

export function missingUpstream(l: Layout): UpstreamBinary[] {
  return UPSTREAM_BINARIES.filter((b) => !existsSync(join(l.binDir, b)));
}

/** Builds whatever upstream binary is missing (all in one `go build`, minutes on a cold cache). */
export async function ensureUpstream(l: Layout, log: Log): Promise<Record<UpstreamBinary, string>> {
  const missing = missingUpstream(l);
  if (missing.length > 0) {
    log(`building ${missing.join(', ')} (Kubernetes ${K8S_VERSION}, CoreDNS ${COREDNS_VERSION}) from the Go module proxy; this takes a while on a cold cache`, { build: true });
    const started = Date.now();
    const logFile = join(l.buildDir, 'build.log');
    log(`build output: ${logFile}`, { build: true });
    await runLogged(join(TOOL_DIR, 'scripts', 'build-components.sh'), [l.buildDir, K8S_VERSION, COREDNS_VERSION], logFile, log);
    log(`built upstream components in ${Math.round((Date.now() - started) / 1000)}s`, { build: true });
  }
  return Object.fromEntries(UPSTREAM_BINARIES.map((b) => [b, join(l.binDir, b)])) as Record<UpstreamBinary, string>;
}

function goSources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...goSources(p));
    else if (e.name.endsWith('.go') || e.name === 'go.mod' || e.name === 'go.sum') out.push(p);
  }
  return out.sort();
}

/** Hash of our Go sources: the cache key of their binaries. */
export function ownSourcesHash(): string {
  const h = createHash('sha256');
  const files = [join(TOOL_DIR, 'go.mod'), ...['helper', 'images'].flatMap((d) => goSources(join(TOOL_DIR, d)))];
  for (const f of files) {
    h.update(relative(TOOL_DIR, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

function ownBinaries(env: NodeJS.ProcessEnv): { dir: string; bins: Record<OwnProgram, string> } {
  const dir = join(cacheRoot(env), 'own', ownSourcesHash());
  const bins = Object.fromEntries(Object.keys(OWN_PROGRAMS).map((p) => [p, join(dir, p === 'helper' ? 'tptc-helper' : p)])) as Record<OwnProgram, string>;
  return { dir, bins };
}

export function ownCached(env: NodeJS.ProcessEnv = process.env): boolean {
  return Object.values(ownBinaries(env).bins).every((b) => existsSync(b) && statSync(b).size > 0);
}

export async function ensureOwn(env: NodeJS.ProcessEnv = process.env): Promise<Record<OwnProgram, string>> {
  const { dir, bins } = ownBinaries(env);
  if (ownCached(env)) return bins;
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  const goEnv = { ...env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false', GOTOOLCHAIN: 'local' };
  for (const [name, pkg] of Object.entries(OWN_PROGRAMS)) {
    const out = join(tmp, name === 'helper' ? 'tptc-helper' : name);
    // A program with a go.mod of its own builds inside its module (its dependencies come from the Go module proxy).
    const ownModule = existsSync(join(TOOL_DIR, pkg, 'go.mod'));
    await run('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', out, ownModule ? '.' : pkg], { cwd: ownModule ? join(TOOL_DIR, pkg) : TOOL_DIR, env: goEnv, timeoutMs: 10 * 60_000 });
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  renameSync(tmp, dir);
  return bins;
}

/** Builds the Argo Rollouts controller and keeps its CRDs when the cache lacks them (minutes, once per version). */
export async function ensureArgoRollouts(l: Layout, log: Log): Promise<ArgoRollouts> {
  if (!argoRolloutsCached()) {
    log(`building the Argo Rollouts controller ${ARGO_ROLLOUTS_VERSION} from the Go module proxy; this takes a while on a cold cache`, { build: true });
    const started = Date.now();
    const logFile = join(l.buildDir, 'build-argo-rollouts.log');
    log(`build output: ${logFile}`, { build: true });
    await runLogged(join(TOOL_DIR, 'scripts', 'build-argo-rollouts.sh'), [argoRolloutsDir(), ARGO_ROLLOUTS_VERSION], logFile, log);
    log(`built the Argo Rollouts controller in ${Math.round((Date.now() - started) / 1000)}s`, { build: true });
  }
  return argoRolloutsPaths();
}

export async function ensureBinaries(l: Layout, log: Log): Promise<Binaries> {
  // One after the other: both builds are CPU-bound and share the Go build cache.
  const [upstream, own] = await Promise.all([ensureUpstream(l, log), ensureOwn()]);
  const argoRollouts = await ensureArgoRollouts(l, log);
  return { upstream, own, argoRollouts };
}

/** Runs the (long) build, appending its output to `logFile` and passing its progress lines to `log`. */
function runLogged(cmd: string, args: string[], logFile: string, log: Log): Promise<void> {
  mkdirSync(dirname(logFile), { recursive: true });
  const out = createWriteStream(logFile, { flags: 'a' });
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail: string[] = [];
    const onLine = (line: string) => {
      out.write(line + '\n');
      tail = [...tail.slice(-9), line];
      const count = /^\[progress\] (\d+) (\d+) (.+)$/.exec(line);
      if (count) log('', { build: true, count: { done: Number(count[1]), total: Number(count[2]), what: count[3]! } });
      else if (line.startsWith('[build]')) log(line.slice(8), { build: true });
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.on('error', reject);
    child.on('close', (code) => {
      out.end();
      if (code === 0) resolve();
      else reject(new Error(`building the upstream components failed (exit ${code}); last lines of ${logFile}:\n${tail.join('\n')}`));
    });
  });
}
