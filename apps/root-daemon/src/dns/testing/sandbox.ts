// A throwaway "workstation" for DNS e2e tests: a network namespace plus a private mount namespace
// with its own tmpfs /run and an /etc overlay pinning nsswitch.conf, resolv.conf and resolved.conf
// (the test cluster's workstation styles), optionally running a real dbus-daemon and
// systemd-resolved. The host's network, /run and /etc are never touched, nor read for resolving.
// Every process is started here and killed by its PID on dispose().
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { etcOverlayScript, flavourPrefix, givenResolvConfFile, workstationEtcFiles, type ResolverFlavour } from '@tel/testcluster';
import { Netns, run } from '../../testing/netns.js';

const here = fileURLToPath(new URL('.', import.meta.url));

export interface SandboxOptions {
  /** Start dbus-daemon + systemd-resolved inside. */
  resolved: boolean;
  /**
   * Content of the sandbox's /etc/resolv.conf. Unset: resolved's managed stub file (a symlink,
   * as on Debian/Ubuntu desktops; needs `resolved`).
   */
  resolvConf?: string;
  /** Make /etc/resolv.conf a symlink to this path (which may not exist) instead. */
  resolvConfSymlink?: string;
  /** Global DNS= for resolved (its "original" upstream). */
  resolvedDns?: string;
}

export class DnsSandbox {
  private readonly children: ChildProcess[] = [];
  private constructor(
    readonly ns: Netns,
    readonly dir: string,
    private readonly holder: ChildProcess,
    /** The sandbox has a resolv.conf of its own (no resolved stub file). */
    private readonly ownResolvConf: boolean,
  ) {}

  static async create(opts: SandboxOptions): Promise<DnsSandbox> {
    const dir = mkdtempSync(join(tmpdir(), 'tpr-dns-'));
    const ns = await Netns.create('dns');
    for (const [f, content] of Object.entries(workstationEtcFiles(dir))) writeFileSync(f, content);
    if (opts.resolvConf !== undefined) writeFileSync(givenResolvConfFile(dir), opts.resolvConf);
    writeFileSync(join(dir, 'resolved.conf'), `[Resolve]\nDNS=${opts.resolvedDns ?? ''}\nFallbackDNS=\nLLMNR=no\nMulticastDNS=no\nDNSSEC=no\nDNSStubListener=yes\n`);
    // The holder owns the mount namespace; everything else joins it through /proc/<pid>/ns/mnt.
    const script = [
      'set -e',
      'mount -t tmpfs tmpfs /run',
      // /run/systemd/resolve is left for resolved to create: it refuses a root-owned one.
      'mkdir -p /run/dbus /run/systemd',
      ...etcOverlayScript({
        dir,
        scratch: '/run',
        flavour: 'stub',
        ...(opts.resolvConf !== undefined ? { resolvConf: opts.resolvConf } : {}),
        ...(opts.resolvConfSymlink !== undefined ? { resolvConfSymlink: opts.resolvConfSymlink } : {}),
        copies: { '/etc/systemd/resolved.conf': join(dir, 'resolved.conf') },
      }),
      'echo ready',
      'exec sleep infinity',
    ].join('\n');
    const holder = ns.spawn('unshare', ['-m', '--propagation', 'private', '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const sb = new DnsSandbox(ns, dir, holder, opts.resolvConf !== undefined || opts.resolvConfSymlink !== undefined);
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        holder.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('ready')) resolve();
        });
        holder.stderr?.on('data', (c: Buffer) => (out += c.toString()));
        holder.once('exit', (code) => reject(new Error(`mount namespace holder exited ${code}: ${out}`)));
      });
      if (opts.resolved) {
        sb.spawn('dbus-daemon', ['--system', '--nofork', '--nopidfile']);
        await sb.waitFor(['test', '-S', '/run/dbus/system_bus_socket'], 'dbus-daemon');
        sb.spawn('/lib/systemd/systemd-resolved', []);
        await sb.waitFor(['resolvectl', 'status'], 'systemd-resolved');
      }
      return sb;
    } catch (err) {
      await sb.dispose();
      throw err;
    }
  }

  private nsenterArgs(cmd: string, args: string[]): string[] {
    // --wd: entering a mount namespace resets the cwd to /, where `--import tsx` is not found.
    return [`--net=/var/run/netns/${this.ns.name}`, `--mount=/proc/${this.holder.pid}/ns/mnt`, `--wd=${process.cwd()}`, '--', cmd, ...args];
  }

  /**
   * Run a command inside (network + mount namespace); `resolver: 'nss-resolve'` runs it with
   * glibc resolving through resolved's NSS module (Fedora style) instead of the stub file.
   */
  exec(cmd: string, args: string[], opts: { timeoutMs?: number; resolver?: ResolverFlavour } = {}): Promise<string> {
    const argv = [...flavourPrefix(opts.resolver ?? 'stub', this.dir, { keepResolvConf: this.ownResolvConf }), cmd, ...args];
    return run('nsenter', this.nsenterArgs(argv[0]!, argv.slice(1)), opts);
  }

  spawn(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn('nsenter', this.nsenterArgs(cmd, args), { stdio: ['pipe', 'pipe', 'pipe'], env });
    child.stderr?.on('data', () => undefined);
    this.children.push(child);
    return child;
  }

  private async waitFor(check: string[], what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await this.exec(check[0]!, check.slice(1), { timeoutMs: 3_000 });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${what} did not start: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Start the test agent (dns/testing/agent.ts) inside; see its header for the protocol. */
  startAgent(): Agent {
    const child = this.spawn(process.execPath, ['--import', 'tsx', resolve(here, 'agent.ts')]);
    return new Agent(child);
  }

  /** Kill what we started (by PID, children first), drop the namespaces and the temp dir. */
  async dispose(): Promise<void> {
    for (const c of [...this.children].reverse()) await killAndWait(c);
    await killAndWait(this.holder);
    await this.ns.delete();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function killAndWait(c: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = once(c, 'exit');
  c.kill(signal);
  const t = setTimeout(() => c.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(t);
}

/** JSON-lines RPC to the agent process. */
export class Agent {
  private nextId = 1;
  private buf = '';
  private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  stderr = '';

  constructor(readonly proc: ChildProcess) {
    proc.stdout?.on('data', (c: Buffer) => {
      this.buf += c.toString();
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        let msg: { id: number; ok: boolean; result?: unknown; error?: string };
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        const w = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        if (msg.ok) w?.resolve(msg.result);
        else w?.reject(new Error(msg.error));
      }
    });
    proc.stderr?.on('data', (c: Buffer) => (this.stderr += c.toString()));
    proc.once('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`agent exited ${code}: ${this.stderr}`));
      this.waiting.clear();
    });
  }

  call<T = any>(cmd: string, args: unknown = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.proc.stdin?.write(JSON.stringify({ id, cmd, args }) + '\n');
    });
  }
}
