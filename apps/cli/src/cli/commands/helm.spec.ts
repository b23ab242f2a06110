// The helm command's argument errors, through the real parser (no cluster needed).
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run } from '../run.js';

async function tp(...argv: string[]) {
  let out = '';
  let err = '';
  const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const code = await run(argv, { stdout: w((s) => (out += s)), stderr: w((s) => (err += s)), env: { XDG_CONFIG_HOME: '/nonexistent', KUBECONFIG: '/nonexistent/kubeconfig' } });
  return { code, stdout: out, stderr: err };
}

describe('telepresence helm', () => {
  it('refuses an unknown action as a user error, with the parser message', async () => {
    const r = await tp('helm', 'reinstall');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("telepresence helm: error: unknown command 'reinstall' (Did you mean one of install, uninstall?); see 'telepresence helm --help'\n");
  });
  it('lists its real subcommands', async () => {
    const r = await tp('helm', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchSnapshot();
  });
  it('-n is refused in one line (it is the workloads\' namespace everywhere)', async () => {
    const r = await tp('helm', 'upgrade', '-n', 'ambassador');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("telepresence helm upgrade: error: unknown option '-n'; see 'telepresence helm upgrade --help'\n");
  });
  it('refuses a bad --timeout', async () => {
    const r = await tp('helm', 'install', '--timeout', 'soon');
    expect(r.stderr).toContain('invalid --timeout "soon"');
  });
  it('an unreadable kubeconfig is a config error naming it', async () => {
    const r = await tp('helm', 'install', '--kubeconfig', '/nonexistent/kc');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no kubeconfig found (KUBECONFIG=/nonexistent/kc)');
  });
  it('help keeps the 2.x flag names and says where the namespace comes from; -n is not the manager namespace', async () => {
    const r = await tp('helm', 'install', '--help');
    expect(r.stdout).toContain('  --manager-namespace <namespace>');
    expect(r.stdout).not.toContain('-n,');
    expect(r.stdout).toMatchSnapshot();
  });
});
