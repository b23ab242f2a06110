// config view through the real parser, against config.yml files written here.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { load } from 'js-yaml';
import { tp } from './testing/tp.js';

const dir = mkdtempSync(join(tmpdir(), 'tel-config-view-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A user whose config.yml holds `yaml` (none when undefined). */
function user(yaml?: string): { env: NodeJS.ProcessEnv; file: string } {
  const home = join(dir, `u${n++}`);
  const file = join(home, 'telepresence', 'config.yml');
  mkdirSync(join(home, 'telepresence'), { recursive: true });
  if (yaml !== undefined) writeFileSync(file, yaml);
  return { env: { XDG_CONFIG_HOME: home }, file };
}

describe('telepresence config view', () => {
  it('without a file: the defaults, as YAML that config.yml would accept', async () => {
    const { env, file } = user();
    const r = await tp(env, ['config', 'view']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')[0]).toBe(`# defaults (${file} does not exist)`);
    expect(load(r.stdout)).toEqual({
      images: {},
      timeouts: { trafficManagerConnect: '1m', trafficManagerAPI: '15s', daemonStart: '10s', agentInstall: '2m' },
      logLevels: { userDaemon: 'info', rootDaemon: 'info' },
      dns: { includeSuffixes: [], excludeSuffixes: [], lookupTimeout: '8s' },
    });
  });

  it('the file over the defaults; -o json; ignored 2.x keys named in one stderr line', async () => {
    const { env, file } = user('images:\n  registry: r.example.com:5000/team\n  agentImage: x/tel2:1\ntimeouts:\n  helm: 45s\n  trafficManagerAPI: 20s\nlogLevels:\n  rootDaemon: debug\n');
    const r = await tp(env, ['config', 'view', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`${file}: ignored (no effect in this telepresence): images.agentImage, timeouts.helm\n`);
    const doc = JSON.parse(r.stdout);
    expect(doc.images).toEqual({ registry: 'r.example.com:5000/team' });
    expect(doc.timeouts.trafficManagerAPI).toBe('20s');
    expect(doc.logLevels).toEqual({ userDaemon: 'info', rootDaemon: 'debug' });
    // What the view prints, written back as config.yml, is the same config.
    const again = user(JSON.stringify(doc));
    const r2 = await tp(again.env, ['config', 'view', '-o', 'json']);
    expect(JSON.parse(r2.stdout)).toEqual(doc);
  });

  it.each([
    ['timeouts:\n  trafficManagerAPI: soon\n', 'timeouts.trafficManagerAPI has invalid value "soon"'],
    ['nope: 1\n', 'unknown key nope'],
    ['images: [\n', 'is not valid YAML'],
  ])('a bad file (%j) is one config error line naming it, exit 3', async (yaml, text) => {
    const { env, file } = user(yaml);
    const r = await tp(env, ['config', 'view']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain(text);
  });

  it('an unknown subcommand or argument is a user error', async () => {
    const { env } = user();
    expect((await tp(env, ['config', 'show'])).code).toBe(2);
    expect((await tp(env, ['config', 'view', 'extra'])).code).toBe(2);
  });
});
