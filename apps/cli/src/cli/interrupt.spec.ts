// Ctrl-C during `telepresence connect` cancels the connect inside the user daemon: real CLI and
// daemon processes (bundled), a real SIGINT, and an API server that accepts and never answers,
// so the connect is still in the daemon when the user gives up.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { userDirs } from '../testing/user-dirs.js';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bundleApp } from '@tel/build';
import { EXIT_CODES } from '@tel/errors';
import { workspaceRoot } from '@tel/genversion';

let tmp: string;
let cli: string;
let env: NodeJS.ProcessEnv;
let apiServer: net.Server;
const held: net.Socket[] = [];

function tp(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function until(what: string, f: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tel-interrupt-'));
  const out = join(tmp, 'dist');
  const root = workspaceRoot(__dirname);
  for (const app of ['cli', 'root-daemon'] as const) await bundleApp(root, app, { version: 'v0.0.0-interrupt', registry: 'localhost:5000' }, out);
  cli = join(out, 'cli', 'main.js');
  apiServer = net.createServer((s) => void held.push(s));
  await new Promise<void>((r) => apiServer.listen(0, '127.0.0.1', r));
  const port = (apiServer.address() as net.AddressInfo).port;
  const kubeconfig = join(tmp, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'silent', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'silent', context: { cluster: 'silent', user: 'u' } }],
      'current-context': 'silent',
    }),
  );
  env = { PATH: process.env.PATH, KUBECONFIG: kubeconfig, ...userDirs(tmp) };
}, 60_000);

afterAll(async () => {
  for (const s of held) s.destroy();
  apiServer?.close();
  if (cli) await tp('quit', '-s');
  // Whatever a failed quit left: every daemon of this file runs a bundle under `tmp`; by PID.
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(tmp)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  rmSync(tmp, { recursive: true, force: true });
}, 30_000);

it('Ctrl-C ends connect at once with one line, and the user daemon sees the cancellation', async () => {
  const log = join(tmp, 'cache', 'telepresence', 'logs', 'connector.log');
  const child = spawn(process.execPath, [cli, 'connect'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // The connect is inside the daemon, waiting on the silent API server.
  await until('the user daemon to start the connect', () => existsSync(log) && readFileSync(log, 'utf8').includes('ensuring traffic manager'));
  await until('the API server to be asked', () => held.length > 0);
  const sent = Date.now();
  child.kill('SIGINT');
  const code = await exited;
  expect(Date.now() - sent).toBeLessThan(2000);
  expect(code).toBe(EXIT_CODES.user);
  expect(stderr).toBe('telepresence connect: error: connect cancelled\n');
  await until('the daemon to log the cancellation', () => readFileSync(log, 'utf8').includes('connect cancelled by the client'), 5000);
  // No session was left behind.
  const status = await tp('status', '--output', 'json');
  expect(JSON.parse(status.stdout).user_daemon.status).toBe('Not connected');
}, 60_000);
