import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, loadConfig, parseDuration } from './config.js';
import { resolveImage } from './registry.js';

const dir = mkdtempSync(join(tmpdir(), 'tel-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function load(yaml: string) {
  const file = join(dir, `config-${n++}.yml`);
  writeFileSync(file, yaml);
  return { file, load: () => loadConfig(file) };
}

describe('config.yml', () => {
  it('a missing file gives the defaults', () => {
    expect(loadConfig(join(dir, 'nope.yml'))).toEqual(DEFAULT_CONFIG);
  });

  it('reads 2.x keys', () => {
    const c = load('images:\n  registry: registry.example.com/team\ntimeouts:\n  trafficManagerConnect: 90s\n  trafficManagerAPI: 1m30s\n  agentInstall: 2m\nlogLevels:\n  userDaemon: debug\ncloud:\n  skipLogin: true\n').load();
    expect(c.images.registry).toBe('registry.example.com/team');
    expect(c.timeouts.trafficManagerConnect).toBe(90_000);
    expect(c.timeouts.trafficManagerAPI).toBe(90_000);
    expect(c.logLevels.userDaemon).toBe('debug');
  });

  it.each([
    ['images:\n  registry: https://x.io\n', /config-\d+\.yml key images\.registry/],
    ['timeouts:\n  trafficManagerConnect: soon\n', /timeouts\.trafficManagerConnect has invalid value "soon": expected a duration/],
    ['logLevels:\n  userDaemon: loud\n', /logLevels\.userDaemon has invalid value "loud"/],
    ['imagez:\n  registry: x\n', /unknown key imagez/],
    ['images: [1, 2]\n', /images has invalid value/],
    ['dns:\n  excludeSuffixes: .com\n', /dns\.excludeSuffixes has invalid value ".com": expected a list of DNS suffixes/],
    ['dns:\n  includeSuffixes: ["a b"]\n', /dns\.includeSuffixes has invalid value/],
    ['dns:\n  lookupTimeout: fast\n', /dns\.lookupTimeout has invalid value "fast"/],
    ['dns:\n  lookupTimout: 4s\n', /unknown key dns\.lookupTimout/],
    ['images:\n  registry: [a\n', /is not valid YAML/],
  ])('names the file, key and value for %j', (yaml, re) => {
    const { file, load: l } = load(yaml);
    let msg = '';
    try {
      l();
    } catch (e) {
      msg = (e as Error).message;
      expect(e).toMatchObject({ category: 'config' });
    }
    expect(msg).toMatch(re);
    expect(msg).toContain(file);
    expect(msg.includes('\n')).toBe(false);
  });

  it('reads dns keys, normalising suffixes to a leading dot', () => {
    const c = load('dns:\n  includeSuffixes: [corp, .Internal]\n  excludeSuffixes: [.rs]\n  lookupTimeout: 4s\n').load();
    expect(c.dns).toEqual({ includeSuffixes: ['.corp', '.internal'], excludeSuffixes: ['.rs'], lookupTimeout: 4000 });
  });

  it.each([
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    [2, 2000],
    ['', undefined],
    ['10', undefined],
    ['-1s', undefined],
    ['1x', undefined],
  ])('parseDuration(%j) = %j', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });
});

describe('registry resolution', () => {
  const cfg = structuredClone(DEFAULT_CONFIG);
  it('env beats config.yml', () => {
    expect(resolveImage({ ...cfg, images: { registry: 'cfg.example.com' } }, 'v1.2.3', { TELEPRESENCE_REGISTRY: 'env.example.com:5000' })).toEqual({
      registry: 'env.example.com:5000',
      source: 'env TELEPRESENCE_REGISTRY',
      image: 'env.example.com:5000/tel2:v1.2.3',
    });
  });
  it('config.yml beats the build default', () => {
    expect(resolveImage({ ...cfg, images: { registry: 'cfg.example.com' } }, 'v1.2.3', {}).source).toBe('config.yml images.registry');
  });
  it('a bad env value is refused', () => {
    expect(() => resolveImage(cfg, 'v1', { TELEPRESENCE_REGISTRY: 'http://x' })).toThrow(/invalid registry "http:\/\/x" in TELEPRESENCE_REGISTRY/);
  });
});
