// Push, pull back and inspect against a real docker-registry: content, config, annotations, reproducibility,
// zero-upload re-push, base reuse by mount and by cross-registry copy, index and Docker schema2 bases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndPush, inspectImage, pullBlob, type BuildSpec } from './index.js';
import { MediaType } from './oci/types.js';
import { sha256 } from './layer/tar.js';
import { listLayer, startProxy, startRegistry, type TestProxy, type TestRegistry } from './testing/index.js';

let reg: TestRegistry;
let reg2: TestRegistry;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  reg = await startRegistry();
  cleanups.push(() => reg.stop());
  reg2 = await startRegistry();
  cleanups.push(() => reg2.stop());
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const CREATED = '2026-11-20T10:00:00Z';

function appSpec(base: string | null, text = 'console.log("hello from tel2")'): BuildSpec {
  return {
    base,
    layers: [[{ path: '/app/x.js', content: text }, { path: '/app/bin/run', content: '#!/bin/sh\n', mode: 0o755 }, { path: '/app/current', linkTarget: 'x.js' }]],
    entrypoint: ['/usr/bin/node'],
    cmd: ['/app/x.js'],
    env: ['NODE_ENV=production'],
    workingDir: '/app',
    exposedPorts: ['8081', '53/udp'],
    labels: { 'io.telepresence.role': 'manager' },
    annotations: { 'org.opencontainers.image.version': '2.5.4', 'org.opencontainers.image.revision': 'abc123', 'org.opencontainers.image.created': CREATED },
    created: CREATED,
  };
}

describe('buildAndPush against a real registry', () => {
  it('pushes an image that pulls back with the same layer contents, config and annotations', async () => {
    const res = await buildAndPush(appSpec(null), `${reg.host}/tel2:v1`, { cache: null });
    expect(res.ref).toBe(`${reg.host}/tel2:v1`);
    expect(res.uploadedBlobs).toBe(2);
    expect(res.skippedBlobs).toBe(0);

    const img = await inspectImage(`${reg.host}/tel2:v1`);
    expect(img.digest).toBe(res.digest);
    expect(img.mediaType).toBe(MediaType.ociManifest);
    expect(img.manifest.annotations).toEqual({
      'org.opencontainers.image.created': CREATED,
      'org.opencontainers.image.revision': 'abc123',
      'org.opencontainers.image.version': '2.5.4',
    });
    expect(img.manifest.config.digest).toBe(res.configDigest);
    expect(img.config.created).toBe(CREATED);
    expect(img.config.config).toEqual({
      Env: ['NODE_ENV=production'],
      Entrypoint: ['/usr/bin/node'],
      Cmd: ['/app/x.js'],
      WorkingDir: '/app',
      ExposedPorts: { '53/udp': {}, '8081/tcp': {} },
      Labels: { 'io.telepresence.role': 'manager' },
    });
    expect(img.config.history).toEqual([{ created: CREATED, created_by: 'tel-image layer 1', comment: 'tel-image' }]);

    const layer = await pullBlob(`${reg.host}/tel2:v1`, img.manifest.layers[0].digest);
    const entries = await listLayer(layer, true);
    expect(entries.map((e) => `${e.type} ${e.name} ${e.mode.toString(8)}`)).toEqual([
      'directory app/ 755',
      'directory app/bin/ 755',
      'file app/bin/run 755',
      'symlink app/current 777',
      'file app/x.js 644',
    ]);
    expect(entries.every((e) => e.uid === 0 && e.gid === 0 && e.uname === '' && e.gname === '' && e.mtime === 0)).toBe(true);
    expect(entries.find((e) => e.name === 'app/x.js')?.content?.toString()).toBe('console.log("hello from tel2")');
    expect(entries.find((e) => e.name === 'app/current')?.linkname).toBe('x.js');
    // diff_id is the digest of the uncompressed tar
    const { gunzipSync } = await import('node:zlib');
    expect(img.config.rootfs.diff_ids).toEqual([sha256(gunzipSync(layer))]);
  });

  it('is reproducible: two builds of one spec give one digest', async () => {
    const a = await buildAndPush(appSpec(null), `${reg.host}/repro:a`, { cache: null });
    const b = await buildAndPush(appSpec(null), `${reg.host}/repro:b`, { cache: null });
    expect(b.digest).toBe(a.digest);
    expect(b.configDigest).toBe(a.configDigest);
  });

  it('re-push of an unchanged image uploads nothing (PushResult and the wire agree)', async () => {
    const proxy = await startProxy(reg.port);
    cleanups.push(() => proxy.close());
    const target = `${proxy.host}/again:v1`;
    const first = await buildAndPush(appSpec(null), target, { cache: null });
    expect(first.uploadedBlobs).toBe(2);
    proxy.requests.length = 0;

    const t0 = performance.now();
    const second = await buildAndPush(appSpec(null), target, { cache: null });
    const ms = performance.now() - t0;
    expect(second.digest).toBe(first.digest);
    expect(second.uploadedBlobs).toBe(0);
    expect(second.bytesUploaded).toBe(0);
    expect(second.skippedBlobs).toBe(2);
    const uploads = proxy.requests.filter((r) => r.path.includes('/blobs/uploads'));
    expect(uploads).toEqual([]);
    expect(proxy.requests.map((r) => `${r.method} ${r.path.replace(/sha256:[0-9a-f]+/, 'DIGEST')}`)).toEqual([
      'HEAD /v2/again/manifests/DIGEST',
      'PUT /v2/again/manifests/v1',
    ]);
    // Generous on purpose: timing belongs to the benchmark; the request list above is the real check.
    expect(ms).toBeLessThan(3000);
  });

  it('a changed app layer re-uploads only that layer and the config', async () => {
    const target = `${reg.host}/changed:v1`;
    await buildAndPush(appSpec(null, 'a'), target, { cache: null });
    const spec = appSpec(null, 'a');
    spec.layers.push([{ path: '/app/extra.js', content: 'b' }]);
    const res = await buildAndPush(spec, target, { cache: null });
    expect(res.skippedBlobs).toBe(1);
    expect(res.uploadedBlobs).toBe(2);
  });

  it('reuses base layers by cross-repo mount on the same registry and merges the base config under the spec', async () => {
    const base: BuildSpec = {
      layers: [[{ path: '/usr/bin/tool', content: 'tool', mode: 0o755 }]],
      env: ['PATH=/usr/bin', 'NODE_ENV=development'],
      entrypoint: ['/usr/bin/tool'],
      cmd: ['--help'],
      labels: { base: 'yes', 'io.telepresence.role': 'base' },
      created: '2026-01-01T00:00:00Z',
    };
    const baseRes = await buildAndPush(base, `${reg.host}/node-base:20`, { cache: null });
    const proxy = await startProxy(reg.port, { relativeLocation: true });
    cleanups.push(() => proxy.close());
    const res = await buildAndPush({ ...appSpec(`${proxy.host}/node-base:20`), entrypoint: undefined, cmd: ['/app/x.js'] }, `${proxy.host}/app:v1`, { cache: null });
    expect(res.mountedBlobs).toBe(1);
    expect(res.uploadedBlobs).toBe(2);
    expect(proxy.requests.some((r) => r.method === 'POST' && r.query.includes('mount=') && r.status === 201)).toBe(true);

    const img = await inspectImage(`${reg.host}/app:v1`);
    const baseImg = await inspectImage(`${reg.host}/node-base:20`);
    expect(baseImg.digest).toBe(baseRes.digest);
    expect(img.manifest.layers[0]).toEqual(baseImg.manifest.layers[0]);
    expect(img.config.rootfs.diff_ids.slice(0, 1)).toEqual(baseImg.config.rootfs.diff_ids);
    expect(img.config.config.Env).toEqual(['PATH=/usr/bin', 'NODE_ENV=production']);
    expect(img.config.config.Entrypoint).toEqual(['/usr/bin/tool']);
    expect(img.config.config.Cmd).toEqual(['/app/x.js']);
    expect(img.config.config.Labels).toEqual({ base: 'yes', 'io.telepresence.role': 'manager' });
    expect(img.config.history).toHaveLength(2);
  });

  it('copies base layers from another registry', async () => {
    await buildAndPush({ layers: [[{ path: '/base.txt', content: 'base' }]] }, `${reg2.host}/far-base:1`, { cache: null });
    const res = await buildAndPush(appSpec(`${reg2.host}/far-base:1`), `${reg.host}/copied:v1`, { cache: null });
    expect(res.uploadedBlobs).toBe(3);
    expect(res.mountedBlobs).toBe(0);
    const img = await inspectImage(`${reg.host}/copied:v1`);
    const entries = await listLayer(await pullBlob(`${reg.host}/copied:v1`, img.manifest.layers[0].digest), true);
    expect(entries.map((e) => e.name)).toEqual(['base.txt']);
  });

  it('accepts a Docker schema2 base behind a manifest list and picks linux/amd64', async () => {
    // Hand-assemble a docker-format base out of an OCI one: same blobs, docker media types, wrapped in a list.
    const ociBase = await buildAndPush({ layers: [[{ path: '/etc/os-release', content: 'ID=test\n' }]] }, `${reg.host}/dockerbase:oci`, { cache: null });
    const oci = await inspectImage(`${reg.host}/dockerbase:oci`);
    const cfg = await pullBlob(`${reg.host}/dockerbase:oci`, ociBase.configDigest);
    const docker = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, digest: ociBase.configDigest, size: cfg.length },
      layers: oci.manifest.layers.map((l: any) => ({ ...l, mediaType: MediaType.dockerLayerGzip })),
    };
    const dockerBytes = Buffer.from(JSON.stringify(docker));
    const put = (ref: string, body: Buffer, type: string) =>
      fetch(`http://${reg.host}/v2/dockerbase/manifests/${ref}`, { method: 'PUT', body: new Uint8Array(body), headers: { 'content-type': type } });
    expect((await put(sha256(dockerBytes), dockerBytes, MediaType.dockerManifest)).status).toBe(201);
    const list = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifestList,
      manifests: [
        { mediaType: MediaType.dockerManifest, digest: ociBase.digest, size: 1, platform: { architecture: 'arm64', os: 'linux' } },
        { mediaType: MediaType.dockerManifest, digest: sha256(dockerBytes), size: dockerBytes.length, platform: { architecture: 'amd64', os: 'linux' } },
      ],
    };
    const listBytes = Buffer.from(JSON.stringify(list));
    expect((await put('multi', listBytes, MediaType.dockerManifestList)).status).toBe(201);

    const res = await buildAndPush(appSpec(`${reg.host}/dockerbase:multi`), `${reg.host}/ondocker:v1`, { cache: null, platform: { os: 'linux', architecture: 'amd64' } });
    const img = await inspectImage(`${reg.host}/ondocker:v1`);
    expect(img.digest).toBe(res.digest);
    expect(img.manifest.layers[0].mediaType).toBe(MediaType.ociLayerGzip);
    expect(img.manifest.layers[0].digest).toBe(oci.manifest.layers[0].digest);
    const listed = await inspectImage(`${reg.host}/dockerbase:multi`, { platform: { os: 'linux', architecture: 'amd64' } });
    expect(listed.indexDigest).toBe(sha256(listBytes));
    expect(listed.digest).toBe(sha256(dockerBytes));
  });
});
