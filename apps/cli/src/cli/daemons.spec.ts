// Real processes, real sockets: two builds of the CLI with different versions, one machine.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { userDirs } from '../testing/user-dirs.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleApp } from '@tel/build';
import { workspaceRoot } from '@tel/genversion';

const run = promisify(execFile);
const OLD = 'v2.5.3';
const NEW = 'v2.5.4-2-g8ccf3c9d';
let tmp: string;
let env: NodeJS.ProcessEnv;
const cli: Record<string, string> = {};

async function tp(version: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [cli[version]!, ...args], { env, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tel-daemons-'));
  const root = workspaceRoot(__dirname);
  for (const version of [OLD, NEW]) {
    const out = join(tmp, version);
    for (const app of ['cli', 'root-daemon'] as const) await bundleApp(root, app, { version, registry: 'localhost:5000' }, out);
    cli[version] = join(out, 'cli', 'main.js');
  }
  env = { PATH: process.env.PATH, ...userDirs(tmp) };
}, 60_000);

afterAll(async () => {
  await tp(NEW, 'quit', '-s');
  await tp(OLD, 'quit', '-s');
  // Whatever a failed or slow quit left behind: every daemon this file started runs a bundle
  // under `tmp`, so it is found by that path and ended by PID.
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(tmp)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('daemons of two versions', () => {
  it('starts both daemons on demand with sockets only the owner can use', async () => {
    const r = await tp(OLD, 'start-daemons', '--output', 'json');
    expect(r.code).toBe(0);
    const { daemons } = JSON.parse(r.stdout);
    expect(daemons.map((d: { version: string }) => d.version)).toEqual([OLD, OLD]);
    for (const sock of [join(tmp, 'run', 'telepresence', 'connector.socket'), join(tmp, 'rootrun', 'daemon.socket')]) {
      const st = statSync(sock);
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
      expect(st.uid).toBe(process.getuid!());
    }
    expect(statSync(join(tmp, 'run', 'telepresence')).mode & 0o777).toBe(0o700);
  });

  it('version of the other client flags the mismatch and exits non-zero', async () => {
    const r = await tp(NEW, 'version');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(new RegExp(`^Client\\s+: ${NEW} \\(api v1\\)$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^User Daemon: ${OLD} \\(api v1\\)  <- version mismatch$`, 'm'));
    expect(r.stderr).toContain(`version mismatch: Client ${NEW} != User Daemon ${OLD}; run 'telepresence quit -s'`);
  });

  it('a client of another version replaces idle daemons and says so', async () => {
    const r = await tp(NEW, 'start-daemons');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Replaced idle Root Daemon ${OLD} with ${NEW} to match the Client`);
    expect(r.stderr).toContain(`Replaced idle User Daemon ${OLD} with ${NEW} to match the Client`);
    const v = JSON.parse((await tp(NEW, 'version', '-o', 'json')).stdout);
    expect(v.components.map((c: { version: string }) => c.version)).toEqual([NEW, NEW, NEW]);
  });

  it('quit -s stops both daemons whatever their version', async () => {
    const r = await tp(OLD, 'quit', '-s');
    expect(r.stdout).toContain('User Daemon quit');
    expect(r.stdout).toContain('Root Daemon quit');
    const v = await tp(NEW, 'version');
    expect(v.stdout).toMatch(/^User Daemon: not running$/m);
    expect(v.stdout).toMatch(/^Root Daemon: not running$/m);
  });

  it('a root daemon binary of another build than the Client is named, with how to fix it, and not claimed replaced', async () => {
    // An install whose root daemon bundle is the old one (a half-updated install, or a fork's build
    // that rebuilt only the CLI).
    const oldRootd = join(tmp, OLD, 'root-daemon', 'main.js');
    await tp(OLD, 'start-daemons'); // an idle old root daemon for the new client to replace
    const r = await run(process.execPath, [cli[NEW]!, 'start-daemons'], { env: { ...env, TELEPRESENCE_ROOT_DAEMON_ENTRY: oldRootd }, timeout: 30_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Root Daemon ${oldRootd} is ${OLD}, not ${NEW}: the Client and its daemons come from different builds`);
    expect(r.stderr).toContain('reinstall telepresence');
    expect(r.stderr).not.toContain('Replaced idle Root Daemon');
    await tp(OLD, 'quit', '-s');
  });
});
