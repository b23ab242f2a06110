import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatEnv, formatEnvJson, parseEnvSyntax } from './env-file.js';

/** Values that break naive quoting: quotes, $, backticks, backslashes, history, line breaks. */
const hard: Record<string, string> = {
  SPACES: 'a b  c',
  SINGLE: "it's",
  DOUBLE: 'say "hi"',
  DOLLAR: '$HOME and ${PATH} and $(id)',
  BACKTICK: '`id`',
  BACKSLASH: 'C:\\path\\to\\',
  BANG: 'wow!!',
  PERCENT: '100%',
  NEWLINE: 'line1\nline2',
  UNICODE: 'grüße ✓',
  EMPTY: '',
  MIXED: `'"$\\\`!%&|<>^`,
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tel-envfile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The environment a real shell ends up with after reading the file (only our names). */
function sourced(shell: string[], file: string, names: string[]): Record<string, string> {
  const dump = `process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify(names)}.filter((n) => n in process.env).map((n) => [n, process.env[n]]))))`;
  const out = execFileSync(shell[0]!, [...shell.slice(1), `${shell[0]!.endsWith('tcsh') ? 'source' : '.'} ${file}; ${process.execPath} -e '${dump}'`], { encoding: 'utf8', env: { PATH: process.env.PATH!, HOME: '/nonexistent' } });
  return JSON.parse(out) as Record<string, string>;
}

describe('formatEnv: the values survive the real shells byte for byte', () => {
  it.each([
    ['sh (dash)', 'sh', ['/bin/sh', '-c']],
    ['sh (bash)', 'sh', ['/bin/bash', '-c']],
    ['csh (tcsh)', 'csh', ['/usr/bin/tcsh', '-f', '-c']],
  ] as const)('%s', (_name, syntax, shell) => {
    expect(existsSync(shell[0]), `${shell[0]} is missing: scripts/setup.sh installs it`).toBe(true);
    const f = formatEnv(hard, syntax);
    expect(f.skipped).toEqual([]);
    const file = join(dir, `env.${syntax}.${shell[0].split('/').pop()}`);
    writeFileSync(file, f.text);
    expect(sourced([...shell], file, Object.keys(hard))).toEqual(hard);
  });

  it('names a shell cannot assign are left out and named', () => {
    const f = formatEnv({ 'my.var': 'x', 'with-dash': 'y', OK: 'z' }, 'sh');
    expect(f.text).toBe("export OK='z'\n");
    expect(f.skipped.map((s) => s.name)).toEqual(['my.var', 'with-dash']);
  });
});

describe('formatEnv: the other syntaxes, exactly', () => {
  it.each([
    ['docker', { A: 'x y', B: "it's \"q\" $X" }, 'A=x y\nB=it\'s "q" $X\n'],
    ['compose', { A: "it's $X", B: 'two\nlines $X', C: 'back\\slash' }, `A='it\\'s $X'\nB="two\\nlines $$X"\nC="back\\\\slash"\n`],
    ['cmd', { A: 'a & b | c', B: '100%' }, 'set "A=a & b | c"\r\nset "B=100%%"\r\n'],
    ['ps', { A: "it's $x", 'my.var': 'v' }, "${Env:A} = 'it''s $x'\n${Env:my.var} = 'v'\n"],
  ] as const)('%s', (syntax, env, text) => {
    expect(formatEnv(env, syntax)).toEqual({ text, skipped: [] });
  });

  it.each([
    ['docker', 'NEWLINE', "docker's env file can't hold a line break in a value"],
    ['cmd', 'NEWLINE', "cmd can't set a value with a line break"],
    ['cmd', 'DOUBLE', "cmd's set can't hold a double quote in a value"],
  ] as const)('%s leaves out %s: %s', (syntax, name, reason) => {
    expect(formatEnv(hard, syntax).skipped).toContainEqual({ name, reason });
  });

  it('the docker file is read back exactly as docker reads it (first "=" splits, the rest is the value)', () => {
    const f = formatEnv(hard, 'docker');
    const back = Object.fromEntries(f.text.trimEnd().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const carried = Object.fromEntries(Object.entries(hard).filter(([k]) => !f.skipped.some((s) => s.name === k)));
    expect(back).toEqual(carried);
  });

  it('JSON carries everything', () => {
    expect(JSON.parse(formatEnvJson(hard))).toEqual(hard);
  });

  it('parseEnvSyntax knows the 2.x names only', () => {
    expect(parseEnvSyntax('compose')).toBe('compose');
    expect(parseEnvSyntax('bash')).toBeUndefined();
  });
});
