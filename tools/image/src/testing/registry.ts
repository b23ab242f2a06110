// Test fixture: a real Distribution registry (Debian's /usr/bin/docker-registry) on a free loopback port,
// with its storage in a temp dir; stop() kills it by PID and removes the dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REGISTRY_BINARY = process.env.TEL_TEST_REGISTRY_BINARY ?? '/usr/bin/docker-registry';

export interface TestRegistry {
  /** "127.0.0.1:PORT" — use as the registry part of image refs. */
  host: string;
  port: number;
  dir: string;
  pid: number;
  /** What the registry wrote to stdout/stderr (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

// Last line of defence when a test runner exits without running afterAll (crash, worker teardown):
// kill the registries this process started, by PID, and remove their dirs. Only ours are ever touched.
const live = new Map<number, string>();
let exitHookInstalled = false;
function track(pid: number, dir: string): void {
  live.set(pid, dir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [p, d] of live) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
      rmSync(d, { recursive: true, force: true });
    }
  });
}

export interface StartRegistryOptions {
  /** Require Basic auth with this user (htpasswd with a bcrypt hash). */
  htpasswd?: { username: string; password: string };
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tel-image-registry-'));
  let child: ChildProcess | undefined;
  try {
    const port = await freePort();
    let auth = '';
    if (opts.htpasswd) {
      const file = path.join(dir, 'htpasswd');
      // Loaded only here: consumers that never ask for auth need not have the devDependency.
      const { default: bcrypt } = await import('bcryptjs');
      await fs.writeFile(file, `${opts.htpasswd.username}:${bcrypt.hashSync(opts.htpasswd.password, 8)}\n`);
      auth = `auth:\n  htpasswd:\n    realm: tel-test\n    path: ${file}\n`;
    }
    const config = [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '  secret: tel-image-test-secret',
      auth,
    ].join('\n');
    const configFile = path.join(dir, 'config.yml');
    await fs.writeFile(configFile, config);

    let output = '';
    child = spawn(REGISTRY_BINARY, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    const spawned = child;
    const exited = new Promise<never>((_, reject) => {
      spawned.once('error', (err) => reject(new Error(`cannot start ${REGISTRY_BINARY}: ${err.message}`)));
      spawned.once('exit', (code, sig) => reject(new Error(`docker-registry exited early (${code ?? sig}): ${output.slice(-2000)}`)));
    });
    exited.catch(() => {});

    // Ready when /v2/ answers at all (200, or 401 with auth on), racing against an early exit.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ok = await Promise.race([
        fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status === 200 || r.status === 401, () => false),
        exited,
      ]);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer on 127.0.0.1:${port} within 20s: ${output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const running = child;
    track(running.pid!, dir);
    return {
      host: `127.0.0.1:${port}`,
      port,
      dir,
      pid: running.pid!,
      output: () => output,
      stop: async () => {
        if (running.exitCode === null && running.signalCode === null) {
          process.kill(running.pid!, 'SIGTERM');
          if (!(await waitExit(running, 5000))) {
            process.kill(running.pid!, 'SIGKILL');
            await waitExit(running, 5000);
          }
        }
        live.delete(running.pid!);
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL');
      await waitExit(child, 5000);
    }
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}
