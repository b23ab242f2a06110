import { describe, expect, it } from 'vitest';
import { buildImageConfig, buildManifest, EPOCH_CREATED, mergeContainerConfig, mergeEnv, toOciLayerDescriptor } from './config.js';
import { MediaType, type ContainerConfig } from './types.js';

describe('config merge (spec over base)', () => {
  const base: ContainerConfig = {
    Env: ['PATH=/bin', 'A=1'],
    Entrypoint: ['/bin/base'],
    Cmd: ['--help'],
    WorkingDir: '/',
    User: '1000',
    ExposedPorts: { '80/tcp': {} },
    Labels: { a: 'base', b: 'base' },
  };
  const cases: Array<[string, Parameters<typeof mergeContainerConfig>[1], Partial<ContainerConfig>]> = [
    ['nothing set keeps the base', {}, { Env: ['PATH=/bin', 'A=1'], Entrypoint: ['/bin/base'], Cmd: ['--help'], User: '1000', WorkingDir: '/' }],
    ['env replaces by key', { env: ['A=2', 'B=3'] }, { Env: ['PATH=/bin', 'A=2', 'B=3'] }],
    ['cmd alone keeps the entrypoint', { cmd: ['run'] }, { Entrypoint: ['/bin/base'], Cmd: ['run'] }],
    ['entrypoint resets the base cmd', { entrypoint: ['/x'] }, { Entrypoint: ['/x'], Cmd: undefined }],
    ['entrypoint and cmd', { entrypoint: ['/x'], cmd: ['y'] }, { Entrypoint: ['/x'], Cmd: ['y'] }],
    ['ports union, tcp implied', { exposedPorts: ['8080', '53/udp'] }, { ExposedPorts: { '53/udp': {}, '80/tcp': {}, '8080/tcp': {} } }],
    ['labels merge', { labels: { b: 'spec', c: 'spec' } }, { Labels: { a: 'base', b: 'spec', c: 'spec' } }],
    ['user and workdir override', { user: '0', workingDir: '/app' }, { User: '0', WorkingDir: '/app' }],
  ];
  it.each(cases)('%s', (_, over, want) => {
    const got = mergeContainerConfig(base, over);
    for (const [k, v] of Object.entries(want)) expect(got[k as keyof ContainerConfig]).toEqual(v);
  });

  it('mergeEnv without overrides returns the base untouched', () => {
    expect(mergeEnv(['A=1'], undefined)).toEqual(['A=1']);
  });
});

describe('image config and manifest', () => {
  it('defaults created to the epoch, never the clock', () => {
    const cfg = buildImageConfig(null, [], {});
    expect(cfg.created).toBe(EPOCH_CREATED);
    expect(cfg.os).toBe('linux');
  });

  it('rejects a created time that is not RFC 3339', () => {
    expect(() => buildImageConfig(null, [], { created: 'yesterday' })).toThrow(/created time 'yesterday' is not an RFC 3339 timestamp/);
  });

  it('appends our diff_ids and history after the base', () => {
    const base = {
      architecture: 'arm64', os: 'linux', rootfs: { type: 'layers' as const, diff_ids: ['sha256:b'] },
      history: [{ created_by: 'base' }, { created_by: 'meta', empty_layer: true }],
    };
    const cfg = buildImageConfig(base, [{ diffId: 'sha256:n', descriptor: { mediaType: 'x', digest: 'sha256:d', size: 1 }, createdBy: 'tel-image layer 1' }], { created: '2026-01-02T03:04:05Z' });
    expect(cfg.architecture).toBe('arm64');
    expect(cfg.rootfs.diff_ids).toEqual(['sha256:b', 'sha256:n']);
    expect(cfg.history?.map((h) => h.created_by)).toEqual(['base', 'meta', 'tel-image layer 1']);
  });

  it('converts docker layer types and sorts annotations', () => {
    expect(toOciLayerDescriptor({ mediaType: MediaType.dockerLayerGzip, digest: 'sha256:x', size: 3 })).toEqual({ mediaType: MediaType.ociLayerGzip, digest: 'sha256:x', size: 3 });
    const m = buildManifest({ mediaType: MediaType.ociConfig, digest: 'sha256:c', size: 2 }, [], { z: '1', a: '2' });
    expect(Object.keys(m.annotations!)).toEqual(['a', 'z']);
    expect(m.mediaType).toBe(MediaType.ociManifest);
  });
});
