// The real parser, in process: help text and error text are part of the interface.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
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
  const code = await run(argv, { stdout: out.stream, stderr: err.stream, env: { XDG_CONFIG_HOME: '/nonexistent', XDG_RUNTIME_DIR: '/nonexistent/run', TELEPRESENCE_ROOT_RUN_DIR: '/nonexistent/root' } });
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

  it('an unknown command is a user error (exit 2) with the parser message', async () => {
    const r = await tp('bogus');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatchSnapshot();
  });

  it('an invalid --output is refused', async () => {
    const r = await tp('--output', 'xml', 'version');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option '-o, --output <format>' argument 'xml' is invalid");
  });

  it('version -o json with no daemons reports them as not running', async () => {
    const r = await tp('version', '-o', 'json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.components.map((c: { name: string; running: boolean }) => [c.name, c.running])).toEqual([
      ['Client', true],
      ['Root Daemon', false],
      ['User Daemon', false],
    ]);
  });

  it('quit with nothing running says so', async () => {
    const r = await tp('quit', '-s');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('Telepresence daemons are not running');
  });
});
