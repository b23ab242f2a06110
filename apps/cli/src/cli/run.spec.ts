// The real parser, in process: help text and error text are part of the interface.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { load } from 'js-yaml';
import { run } from './run.js';

function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += chunk;
      cb();
    },
  });
  return { stream, text: () => text };
}

async function tp(...argv: string[]) {
  const out = capture();
  const err = capture();
  const code = await run(argv, { stdout: out.stream, stderr: err.stream, env: { HOME: '/nonexistent', XDG_CONFIG_HOME: '/nonexistent', XDG_RUNTIME_DIR: '/nonexistent/run', TELEPRESENCE_ROOT_RUN_DIR: '/nonexistent/root' } });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('telepresence CLI', () => {
  it('help lists the public commands and hides the daemon entry point', async () => {
    const r = await tp('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchSnapshot();
    expect(r.stdout).not.toContain('connector-foreground');
  });

  it('quit help keeps the 2.x flags', async () => {
    const r = await tp('quit', '--help');
    expect(r.stdout).toMatchSnapshot();
  });

  it('help hides --json (2.x keeps it for old scripts)', async () => {
    expect((await tp('--help')).stdout).not.toContain('--json');
  });

  it.each([
    [['bogus'], "telepresence: error: unknown command 'bogus'; see 'telepresence --help'"],
    [['--bogus', 'version'], "telepresence: error: unknown option '--bogus'; see 'telepresence --help'"],
    [['version', '--bogus'], "telepresence version: error: unknown option '--bogus'; see 'telepresence version --help'"],
    [['helm', 'install', '--timeout'], "telepresence helm install: error: option '--timeout <duration>' argument missing; see 'telepresence helm install --help'"],
    [['leave'], "telepresence leave: error: missing required argument 'name'; see 'telepresence leave --help'"],
    [['quit', 'now'], "telepresence quit: error: too many arguments for 'quit'. Expected 0 arguments but got 1; see 'telepresence quit --help'"],
    [['connect', '--also-proxy'], "telepresence connect: error: option '--also-proxy <cidr...>' argument missing; see 'telepresence connect --help'"],
  ])('parse error %j: one line in our format naming the command, a user error (exit 2)', async (argv, line) => {
    const r = await tp(...argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${line}\n`);
  });

  it('a parse error in json mode is the error document', async () => {
    const r = await tp('-o', 'json', 'leave');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ error: { category: 'user', message: "missing required argument 'name'", hint: "see 'telepresence leave --help'" } });
  });

  it.each([['xml'], ['jsonl'], ['']])('an output format not offered (%j): one line, exit 2, nothing on stdout', async (format) => {
    const r = await tp('--output', format, 'version');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`telepresence version: error: invalid output format ${JSON.stringify(format)}; use one of default, json, yaml\n`);
  });

  it('version -o json with no daemons reports them as not running, keyed as 2.x names them', async () => {
    const r = await tp('version', '-o', 'json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.components.map((c: { name: string; running: boolean }) => [c.name, c.running])).toEqual([
      ['Client', true],
      ['Root Daemon', false],
      ['User Daemon', false],
    ]);
    expect(Object.keys(doc)).toEqual(['client', 'root_daemon', 'user_daemon', 'components', 'mismatches']);
  });

  it('-o yaml, -o JSON (any case) and the hidden --json give the same document', async () => {
    const json = JSON.parse((await tp('version', '-o', 'json')).stdout);
    expect(load((await tp('-o', 'yaml', 'version')).stdout)).toEqual(json);
    expect(JSON.parse((await tp('version', '-o', 'JSON')).stdout)).toEqual(json);
    expect(JSON.parse((await tp('version', '--json')).stdout)).toEqual(json);
    expect(JSON.parse((await tp('--json', 'quit')).stdout)).toEqual({ disconnected: false, stopped: [] });
  });

  it('an error in yaml mode is the error document in yaml', async () => {
    const r = await tp('-o', 'yaml', 'uninstall');
    expect(r.code).toBe(2);
    expect(load(r.stdout)).toEqual({ error: { category: 'user', message: 'nothing to uninstall', hint: 'name the workloads, or use --all-agents' } });
  });

  it('quit with nothing running says so', async () => {
    const r = await tp('quit', '-s');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('Telepresence daemons are not running');
  });
});
