// Release toolkit benchmark (issue: monorepo and release). Each figure is printed with a ratio
// against a baseline measured in this same run, and all are written to bench/results/release.json.
//   full build         vs esbuild alone bundling the same three entry points (Nx + genversion overhead)
//   cached no-op build vs the full build (what the cache saves)
//   image build+push   vs skopeo copying the same image to a new repository on the same registry
//   re-push unchanged  vs skopeo copying it again (both find every blob present)
// Targets: full build ≤ 60 s, cached ≤ 3 s, build+push ≤ 10 s, re-push ≤ 1 s with 0 uploads.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '@tel/image/testing';
import { readBuildInfo, workspaceRoot } from '@tel/genversion';
import { APPS, BUNDLE_EXTERNALS, pushBaseImage, pushTrafficManagerImage } from '@tel/build';

const root = workspaceRoot();
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function timeIt(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}
async function timeAsync<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await fn();
  return [(performance.now() - t) / 1000, r];
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function nx(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(join(root, 'node_modules/.bin/nx'), args, { cwd: root, env: { ...env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nx ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
}

async function main() {
  const registry = await startRegistry();
  const env = { ...process.env, TELEPRESENCE_REGISTRY: registry.host, TELEPRESENCE_VERSION: 'v0.0.0-bench' };
  const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length, runs: RUNS };
  try {
    // 1. Full build (no cache) vs esbuild alone.
    const full = Array.from({ length: RUNS }, () => timeIt(() => nx(['run-many', '-t', 'build', '--skip-nx-cache'], env)));
    const outdir = join(tmpdir(), `bench-esbuild-${process.pid}`);
    const esbuildOnly = Array.from({ length: RUNS }, () =>
      timeIt(() =>
        execFileSync(join(root, 'node_modules/.bin/esbuild'), [...Object.values(APPS), '--bundle', '--platform=node', '--format=esm', ...BUNDLE_EXTERNALS.map((e) => `--external:${e}`), `--outdir=${outdir}`, '--log-level=error'], { cwd: root }),
      ),
    );
    rmSync(outdir, { recursive: true, force: true });
    // 2. Cached no-op rebuild.
    nx(['run-many', '-t', 'build'], env);
    const cached = Array.from({ length: RUNS }, () => timeIt(() => nx(['run-many', '-t', 'build'], env)));

    // 3. Image build+push with the base already in the registry; 4. re-push of the unchanged image.
    const info = readBuildInfo(root);
    await pushBaseImage(info);
    const [pushSeconds, pushed] = await timeAsync(() => pushTrafficManagerImage(info, join(root, 'dist', 'apps')));
    const repush: number[] = [];
    let repushUploads = 0;
    for (let i = 0; i < RUNS; i++) {
      const [s, r] = await timeAsync(() => pushTrafficManagerImage(info, join(root, 'dist', 'apps')));
      repush.push(s);
      repushUploads += r.uploadedBlobs;
    }
    const skopeo = (dest: string) =>
      timeIt(() => execFileSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${info.image}`, `docker://${registry.host}/${dest}`]));
    const skopeoFirst = skopeo('skopeo-copy:v1');
    const skopeoAgain = median(Array.from({ length: RUNS }, () => skopeo('skopeo-copy:v1')));

    const rows = [
      { name: 'full build (s)', value: median(full), baseline: median(esbuildOnly), baselineName: 'esbuild alone', target: 60 },
      { name: 'cached no-op build (s)', value: median(cached), baseline: median(full), baselineName: 'full build', target: 3 },
      { name: 'image build+push (s)', value: pushSeconds, baseline: skopeoFirst, baselineName: 'skopeo copy', target: 10 },
      { name: 're-push unchanged (s)', value: median(repush), baseline: skopeoAgain, baselineName: 'skopeo copy again', target: 1 },
    ];
    results.rows = rows.map((r) => ({ ...r, ratio: r.value / r.baseline, met: r.value <= r.target }));
    results.imageBytesUploaded = pushed.bytesUploaded;
    results.repushBlobUploads = repushUploads;
    for (const r of results.rows as (typeof rows[number] & { ratio: number; met: boolean })[]) {
      process.stdout.write(
        `${r.name.padEnd(24)} ${r.value.toFixed(2).padStart(7)}  target ≤ ${String(r.target).padEnd(3)} ${r.met ? 'met ' : 'MISS'}  ${r.ratio.toFixed(2)}× ${r.baselineName} (${r.baseline.toFixed(2)})\n`,
      );
    }
    process.stdout.write(`re-push blob uploads: ${repushUploads} (over ${RUNS} re-pushes)\n`);
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'release.json'), JSON.stringify(results, null, 2) + '\n');
  } finally {
    await registry.stop();
    // Leave dist/ built for the checked-out version, not the bench's pinned one.
    nx(['run-many', '-t', 'build'], { ...process.env });
  }
}

await main();
