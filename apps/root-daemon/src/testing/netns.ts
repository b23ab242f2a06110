// Throwaway network namespaces for e2e tests (never the host's): create, run commands inside,
// delete. Names start with "tpr-" so a leak is easy to spot with `ip netns list`.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export function run(cmd: string, args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}\n${String(stdout)}`));
      else resolve(String(stdout));
    });
    if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
  });
}

export class Netns {
  private constructor(readonly name: string) {}

  static async create(role: string): Promise<Netns> {
    const name = `tpr-${randomBytes(3).toString('hex')}-${role}`;
    await run('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Run a command in the namespace (network only: nsenter keeps /sys and cgroups as they are). */
  exec(cmd: string, args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
    return run('nsenter', [`--net=/var/run/netns/${this.name}`, '--', cmd, ...args], opts);
  }

  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('nsenter', [`--net=/var/run/netns/${this.name}`, '--', cmd, ...args], opts);
  }

  async delete(): Promise<void> {
    await run('ip', ['netns', 'del', this.name]).catch(() => undefined);
  }
}

/**
 * Start `node args...` in `ns` (as `asUid` when given) and resolve once it prints its first line,
 * i.e. it is listening; reject with its stderr if it exits first. The child is added to `children`
 * so the caller's afterAll can end it by PID.
 */
export function spawnNodeIn(ns: Netns, args: string[], children: ChildProcess[], asUid?: number): Promise<ChildProcess> {
  const cmd = asUid === undefined ? [process.execPath, ...args] : ['setpriv', `--reuid=${asUid}`, `--regid=${asUid}`, '--clear-groups', process.execPath, ...args];
  const child = ns.spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((res, rej) => {
    child.stdout?.once('data', () => res(child));
    child.once('exit', (code) => rej(new Error(`${args.join(' ').slice(0, 80)} exited ${code}: ${err}`)));
  });
}
