// completion through the real parser; the bash script is sourced in a real bash and asked, with
// COMP_WORDS/COMP_CWORD set as bash's completion sets them, for its candidates.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineCommand } from '../command.js';
import { COMMANDS } from './index.js';
import { completionScript } from './completion.js';
import { tp } from './testing/tp.js';

const dir = mkdtempSync(join(tmpdir(), 'tel-completion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let script: string;

beforeAll(async () => {
  const r = await tp({}, ['completion', 'bash']);
  expect(r.code, r.stderr).toBe(0);
  script = join(dir, 'telepresence.bash');
  writeFileSync(script, r.stdout);
});

/** The candidates bash's completion offers for `line` (the cursor at its end). */
function complete(line: string, file = script): string[] {
  const words = line.split(' ');
  const program = `source ${JSON.stringify(file)}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_telepresence
printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['--norc', '--noprofile', '-c', program], { encoding: 'utf8', cwd: dir })
    .split('\n')
    .filter((l) => l.length > 0)
    .sort();
}

describe('telepresence completion bash', () => {
  it.each([
    ['telepresence list-', ['list-contexts', 'list-namespaces']],
    ['telepresence helm ', ['install', 'uninstall', 'upgrade']],
    ['telepresence config ', ['view']],
    ['telepresence completion ', ['bash', 'fish', 'zsh']],
    ['telepresence loglevel --d', ['--duration']],
    ['telepresence helm install --k', ['--kubeconfig']],
    ['telepresence -o json helm upgrade --ti', ['--timeout']],
    ['telepresence --output ', ['default', 'json']],
    ['telepresence quit -', ['--help', '--output', '--root', '--stop-daemons', '--user', '--verbose', '-h', '-o', '-r', '-s', '-u']],
    // A flag's value is not a subcommand: `-n helm` names a namespace.
    ['telepresence connect -n helm ', []],
    // After -- the words belong to the intercepted command.
    ['telepresence intercept x -- hel', []],
  ])('%j offers %j', (line, expected) => {
    expect(complete(line)).toEqual(expected);
  });

  it('the top level offers every visible command and never the hidden daemon entry', () => {
    const names = complete('telepresence ');
    expect(names).toEqual(COMMANDS.filter((c) => !c.hidden).map((c) => c.name).sort());
    expect(names).not.toContain('connector-foreground');
  });

  it('a file-valued flag completes paths', () => {
    writeFileSync(join(dir, 'kubeconfig-a'), '');
    expect(complete('telepresence list-namespaces --kubeconfig kubeconfig-')).toEqual(['kubeconfig-a']);
  });

  it('a command added to the data completes without touching the generator', () => {
    const extra = defineCommand({ name: 'frobnicate', description: 'x', requires: 'none', flags: [{ flags: '--level <n>', description: 'x' }] });
    const file = join(dir, 'extra.bash');
    writeFileSync(file, completionScript('bash', [...COMMANDS, extra]));
    expect(complete('telepresence frob', file)).toEqual(['frobnicate']);
    expect(complete('telepresence frobnicate --le', file)).toEqual(['--level']);
  });
});

// zsh and fish are installed by scripts/setup.sh: the scripts are checked in the real shells.
describe('telepresence completion zsh|fish in the real shells', () => {
  it('zsh: the script loads, and the function answers as bashcompinit calls it', async () => {
    const file = join(dir, 'telepresence.zsh');
    writeFileSync(file, (await tp({}, ['completion', 'zsh'])).stdout);
    // What bashcompinit's _bash_complete sets before calling the function: zsh's 1-based words, CURRENT.
    const ask = (...words: string[]) =>
      execFileSync('zsh', ['-f', '-c', `source ${JSON.stringify(file)}; words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; COMP_CWORD=$((CURRENT - 1)); COMP_WORDS=("\${words[@]}"); _telepresence; print -l -- "\${COMPREPLY[@]}"`], { encoding: 'utf8', cwd: dir, env: { ...process.env, HOME: dir } })
        .split('\n')
        // zsh's compgen does not filter by the word; compadd does, by the typed prefix.
        .filter((l) => l.length > 0 && l.startsWith(words.at(-1)!))
        .sort();
    expect(ask('telepresence', 'helm', '')).toEqual(['install', 'uninstall', 'upgrade']);
    expect(ask('telepresence', 'loglevel', '--d')).toEqual(['--duration']);
    expect(ask('telepresence', 'connect', '-n', 'helm', '')).toEqual([]);
  });

  it('fish: complete -C offers the subcommands and flags with their descriptions', async () => {
    const file = join(dir, 'telepresence.fish');
    writeFileSync(file, (await tp({}, ['completion', 'fish'])).stdout);
    const ask = (line: string) =>
      execFileSync('fish', ['--no-config', '-c', `source ${JSON.stringify(file)}; complete -C ${JSON.stringify(line)}`], { encoding: 'utf8', cwd: dir, env: { ...process.env, HOME: dir } })
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => l.split('\t')[0])
        .sort();
    expect(ask('telepresence helm ')).toEqual(['install', 'uninstall', 'upgrade']);
    expect(ask('telepresence loglevel --d')).toEqual(['--duration']);
    expect(ask('telepresence list-n')).toEqual(['list-namespaces']);
    // `uninstall` is a command and a helm subcommand: each gets its own flags.
    expect(ask('telepresence helm uninstall --')).toEqual(['--context', '--kubeconfig', '--manager-namespace', '--output', '--timeout', '--verbose']);
    expect(ask('telepresence uninstall --')).toEqual(['--all-agents', '--context', '--kubeconfig', '--namespace', '--output', '--verbose']);
    expect(ask('telepresence connect -n helm ')).toEqual([]);
    expect(ask('telepresence intercept x -- hel')).toEqual([]);
  });
});

describe('telepresence completion zsh|fish', () => {
  it('zsh runs the same function through bashcompinit; fish gets complete lines for commands, subcommands and flags', async () => {
    const zsh = await tp({}, ['completion', 'zsh']);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout.split('\n')[0]).toBe('#compdef telepresence');
    expect(zsh.stdout).toContain('bashcompinit');
    expect(zsh.stdout).toContain('complete -F _telepresence telepresence');
    const fish = await tp({}, ['completion', 'fish']);
    expect(fish.code).toBe(0);
    expect(fish.stdout).toContain(`complete -c telepresence -n '__telepresence_at ""' -a 'loglevel'`);
    expect(fish.stdout).toContain(`complete -c telepresence -n '__telepresence_at "helm"' -a 'install'`);
    expect(fish.stdout).toContain(`complete -c telepresence -n '__telepresence_at "loglevel"' -s d -l duration -x`);
    expect(fish.stdout).toContain(`complete -c telepresence -n '__telepresence_at "list-namespaces"' -l kubeconfig -r -F`);
  });

  it('an unknown or missing shell is a user error, nothing printed on stdout', async () => {
    const bad = await tp({}, ['completion', 'tcsh']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe('telepresence completion: error: unknown shell "tcsh"; use one of bash, zsh, fish\n');
    const missing = await tp({}, ['completion']);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
  });
});
