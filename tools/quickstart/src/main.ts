// The README's main job on the embedded default (no external cluster or registry): start a local
// registry, build every artifact with one version, push the cluster image, verify, and print the
// version each artifact carries. Later issues extend it (test cluster, connect, curl a service).
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { inspectImage } from '@tel/image';
import { startRegistry } from '@tel/image/testing';
import { readBuildInfo, workspaceRoot } from '@tel/genversion';

const exec = promisify(execFile);
const root = workspaceRoot();
const tty = process.stderr.isTTY && !process.env.CI;
const json = process.argv.includes('--output') && process.argv[process.argv.indexOf('--output') + 1] === 'json';
const step = (n: number, text: string) => process.stderr.write(tty ? `\x1b[1m[${n}/4]\x1b[0m ${text}\n` : `[${n}/4] ${text}\n`);

function nx(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(root, 'node_modules/.bin/nx'), [...args, '--outputStyle=static'], {
      cwd: root,
      env: { ...env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
      stdio: ['ignore', tty ? 'inherit' : 'pipe', tty ? 'inherit' : 'pipe'],
    });
    let log = '';
    child.stdout?.on('data', (d) => (log += d));
    child.stderr?.on('data', (d) => (log += d));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nx ${args.join(' ')} failed (exit ${code})\n${log.slice(-4000)}`))));
  });
}

async function main(): Promise<number> {
  step(1, 'starting a local OCI registry (Debian docker-registry) on 127.0.0.1');
  const registry = await startRegistry();
  const env = { ...process.env, TELEPRESENCE_REGISTRY: registry.host };
  try {
    step(2, `building every artifact for registry ${registry.host}`);
    await nx(['run-many', '-t', 'build'], env);
    step(3, 'pushing the Node runtime base and the tel2 image');
    await nx(['run', 'traffic-manager:push-base'], env);
    await nx(['run-many', '-t', 'push-image'], env);
    step(4, 'verifying that every artifact carries the same version');
    await nx(['run-many', '-t', 'verify-version'], env);

    const info = readBuildInfo(root);
    const rows: { artifact: string; version: string }[] = [];
    for (const app of ['cli', 'root-daemon', 'traffic-manager']) {
      const file = join(root, 'dist', 'apps', app, 'main.js');
      const { stdout } = await exec(process.execPath, [file, '--build-info']);
      rows.push({ artifact: `dist/apps/${app}/main.js`, version: JSON.parse(stdout).version });
    }
    const img = await inspectImage(info.image);
    rows.push({ artifact: `${info.image}@${img.digest.slice(0, 19)}…`, version: img.manifest.annotations['org.opencontainers.image.version'] });
    const same = rows.every((r) => r.version === info.version);
    if (json) {
      process.stdout.write(JSON.stringify({ version: info.version, registry: registry.host, artifacts: rows, consistent: same }) + '\n');
    } else {
      const w = Math.max(...rows.map((r) => r.artifact.length));
      process.stdout.write(`Version ${info.version} (${info.source}${info.dirty ? ', dirty tree' : ''})\n`);
      for (const r of rows) process.stdout.write(`  ${r.artifact.padEnd(w)}  ${r.version}\n`);
      process.stdout.write(same ? 'All artifacts carry the same version.\n' : 'VERSION MISMATCH between artifacts.\n');
    }
    return same ? 0 : 1;
  } finally {
    await registry.stop();
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: Error & { hint?: string }) => {
    process.stderr.write(`quickstart: ${err.message}${err.hint ? `; ${err.hint}` : ''}\n`);
    process.exitCode = 1;
  },
);
