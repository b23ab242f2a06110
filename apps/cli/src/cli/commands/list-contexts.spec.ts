// list-contexts through the real parser, against kubeconfig files written here (no cluster).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../run.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

async function tp(env: NodeJS.ProcessEnv, ...argv: string[]) {
  let out = '';
  let err = '';
  const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const code = await run(argv, { stdout: w((s) => (out += s)), stderr: w((s) => (err += s)), env: { XDG_CONFIG_HOME: '/nonexistent', ...env } });
  return { code, stdout: out, stderr: err };
}

const kubeconfig = (current: string, contexts: [string, string, string?][]) => `
apiVersion: v1
kind: Config
current-context: ${current}
clusters: [${contexts.map(([, c]) => `{name: ${c}, cluster: {server: "https://198.18.0.1:6443"}}`).join(', ')}]
users: [{name: u, user: {token: t}}]
contexts: [${contexts.map(([n, c, ns]) => `{name: ${n}, context: {cluster: ${c}, user: u${ns ? `, namespace: ${ns}` : ''}}}`).join(', ')}]
`;

describe('telepresence list-contexts', () => {
  it('lists the contexts of every KUBECONFIG file, the first definition winning, the current one marked', async () => {
    const d = mkdtempSync(join(tmpdir(), 'tel-ctx-'));
    dirs.push(d);
    writeFileSync(join(d, 'a'), kubeconfig('dev', [['dev', 'c1', 'shop'], ['prod', 'c2']]));
    writeFileSync(join(d, 'b'), kubeconfig('prod', [['prod', 'c3'], ['lab', 'c4']]));
    const env = { KUBECONFIG: `${join(d, 'a')}:${join(d, 'b')}` };
    const text = await tp(env, 'list-contexts');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe('* dev   cluster c1, user u, namespace shop\n  prod  cluster c2, user u\n  lab   cluster c4, user u\n');
    const json = await tp(env, 'list-contexts', '--output', 'json');
    expect(JSON.parse(json.stdout)).toEqual({ current: 'dev', contexts: [{ name: 'dev', cluster: 'c1', user: 'u', namespace: 'shop' }, { name: 'prod', cluster: 'c2', user: 'u' }, { name: 'lab', cluster: 'c4', user: 'u' }] });
    const only = await tp({}, 'list-contexts', '--kubeconfig', join(d, 'b'));
    expect(only.stdout).toContain('* prod  cluster c3');
  });

  it('a missing or broken kubeconfig is one config error naming it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'tel-ctx-'));
    dirs.push(d);
    const missing = await tp({ KUBECONFIG: join(d, 'none') }, 'list-contexts');
    expect(missing.code).toBe(3);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain(`no kubeconfig found (KUBECONFIG=${join(d, 'none')})`);
    writeFileSync(join(d, 'bad'), 'clusters: [');
    const broken = await tp({ KUBECONFIG: join(d, 'bad') }, 'list-contexts');
    expect(broken.code).toBe(3);
    expect(broken.stderr).toContain(`${join(d, 'bad')} is not a valid kubeconfig`);
  });
});
