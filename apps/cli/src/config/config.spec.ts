import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, configDocument, formatDuration, loadConfig, parseDuration, readConfig } from './config.js';
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
    ['timeouts:\n  helm: soon\n', /timeouts\.helm has invalid value "soon"/],
    ['timeouts:\n  hlem: 30s\n', /unknown key timeouts\.hlem/],
    ['logLevels:\n  userDaemon: fatal\n', /expected one of trace, debug, info, warning, error/],
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

  it('names the 2.x keys it ignores in one warning line, and honours the rest of the file', () => {
    const { file, load: l } = load(
      'images:\n  registry: r.example.com\n  agentImage: r.example.com/tel2:1\ntimeouts:\n  helm: 2m\n  agentInstall: 3m\ncluster:\n  defaultManagerNamespace: tel\ncloud: {}\nlogLevels:\n  rootDaemon: warning\n',
    );
    const warnings: string[] = [];
    const c = loadConfig(file, (w) => warnings.push(w));
    expect(warnings).toEqual([`${file}: ignored (no effect in this telepresence): images.agentImage, timeouts.helm, cluster.defaultManagerNamespace, cloud`]);
    expect(c.images.registry).toBe('r.example.com');
    expect(c.timeouts.agentInstall).toBe(180_000);
    expect(c.logLevels.rootDaemon).toBe('warn');
    expect(l()).toEqual(c);
    expect(readConfig(load('timeouts:\n  agentInstall: 1m\n').file).ignored).toEqual([]);
  });

  it('the view spells durations so that config.yml reads them back to the same config', () => {
    const { file } = load('timeouts:\n  trafficManagerAPI: 1m30s\n  agentInstall: 1500ms\ndns:\n  lookupTimeout: 4s\n');
    const c = loadConfig(file);
    const doc = configDocument(c);
    expect(doc.timeouts).toEqual({ trafficManagerConnect: '1m', trafficManagerAPI: '1m30s', daemonStart: '10s', agentInstall: '1s500ms' });
    const again = load(dump(doc));
    expect(loadConfig(again.file)).toEqual(c);
  });

  it.each([
    [0, '0s'],
    [500, '500ms'],
    [3_723_004, '1h2m3s4ms'],
  ])('formatDuration(%j) = %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text, { allowZero: true })).toBe(ms);
  });

  it('zero is a duration only where allowed', () => {
    expect(parseDuration('0s')).toBeUndefined();
    expect(parseDuration(0)).toBeUndefined();
    expect(parseDuration('0s', { allowZero: true })).toBe(0);
    expect(parseDuration('0', { allowZero: true })).toBe(0);
    expect(parseDuration('-0s', { allowZero: true })).toBeUndefined();
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
