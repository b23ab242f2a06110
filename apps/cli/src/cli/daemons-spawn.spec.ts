// A daemon that cannot be spawned is one line with what to do, never a crash: the real CLI bundle
// run as an unprivileged user (nobody) with a PATH that has no sudo, as on a minimal container.
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleApp } from '@tel/build';
import { userDirs } from '../testing/user-dirs.js';
import { EXIT_CODES } from '@tel/errors';
import { workspaceRoot } from '@tel/genversion';
import { ROOT_DAEMON, spawnError } from './daemons.js';

const run = promisify(execFile);
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const noSudo = (command: string) =>
  `telepresence ${command}: error: cannot start the Root Daemon: it needs root and 'sudo' is not on PATH; install sudo (and allow this user to use it), or run the command as root\n`;

let tmp: string;
let cli: string;
let env: NodeJS.ProcessEnv;

/** Runs the bundled CLI as nobody; PATH holds only an empty directory. */
async function tpAsNobody(...args: string[]) {
  const argv = [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, cli, ...args];
  // setpriv is looked up on the test's PATH; the CLI gets the sudo-less one.
  const setpriv = (process.env.PATH ?? '').split(':').map((d) => join(d, 'setpriv')).find((p) => existsSync(p)) ?? 'setpriv';
  return run(setpriv, argv, { env, timeout: 30_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

function chownTree(path: string): void {
  chownSync(path, NOBODY, NOBODY);
  if (statSync(path).isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e));
}

describe.skipIf(!asRoot)('starting daemons without sudo, as a non-root user', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tel-nosudo-'));
    const out = join(tmp, 'dist');
    await bundleApp(workspaceRoot(__dirname), 'cli', { version: 'v0.0.0-nosudo', registry: 'localhost:5000' }, out);
    cli = join(out, 'cli', 'main.js');
    mkdirSync(join(tmp, 'bin'));
    env = { PATH: join(tmp, 'bin'), ...userDirs(tmp) };
    chmodSync(tmp, 0o755);
    chownTree(tmp);
  }, 60_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** PIDs of user daemons of this test's build still running. */
  const userDaemonsLeft = (): string[] => {
    const r = spawnSync('pgrep', ['-f', `${cli} connector-foreground`], { encoding: 'utf8' });
    return r.stdout.split('\n').filter(Boolean);
  };

  for (const command of ['start-daemons', 'connect']) {
    it(`${command}: one line naming sudo and how to fix it, a user-error exit code, no stack trace`, async () => {
      const r = await tpAsNobody(command);
      expect(r.stderr).toBe(noSudo(command));
      expect(r.code).toBe(EXIT_CODES.user);
      expect(r.stdout).toBe('');
      // The user daemon, started beside the root daemon that could not start, is not left running.
      expect(userDaemonsLeft()).toEqual([]);
    });
  }

  it('--output json: the same error as the json document', async () => {
    const r = await tpAsNobody('start-daemons', '--output', 'json');
    expect(r.code).toBe(EXIT_CODES.user);
    expect(JSON.parse(r.stdout)).toEqual({ error: { category: 'user', message: "cannot start the Root Daemon: it needs root and 'sudo' is not on PATH", hint: 'install sudo (and allow this user to use it), or run the command as root' } });
  });
});

describe('spawnError', () => {
  const fail = (code: string) => Object.assign(new Error(`spawn x ${code}`), { code });
  it.each([
    ['sudo', 'ENOENT', "cannot start the Root Daemon: it needs root and 'sudo' is not on PATH"],
    ['/opt/node', 'ENOENT', 'cannot start the Root Daemon: running /opt/node failed (not found)'],
    ['/opt/node', 'EACCES', 'cannot start the Root Daemon: running /opt/node failed (permission denied)'],
    ['/opt/node', 'EMFILE', 'cannot start the Root Daemon: running /opt/node failed (EMFILE)'],
  ])('%s %s', (cmd, code, message) => {
    const err = spawnError(ROOT_DAEMON, cmd, fail(code), '/logs/daemon.log');
    expect(err).toMatchObject({ category: 'user', message });
  });
});
