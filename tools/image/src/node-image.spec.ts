// End to end on this host: a Node runtime base from /usr/bin/node, an app layer over it, read by a third-party
// client (skopeo), then unpacked and actually run with chroot.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndPush, inspectImage, LayerCache, nodeBaseSpec, pullBlob } from './index.js';
import { startRegistry, unpackLayers, type TestRegistry } from './testing/index.js';

const run = promisify(execFile);
let reg: TestRegistry;
let tmp: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tel-image-node-'));
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop().catch(() => {});
  await fs.rm(tmp, { recursive: true, force: true });
});

const CREATED = '2026-11-20T10:00:00Z';

describe('Node runtime image from the host', () => {
  let appDigest = '';

  it('builds and pushes the base reproducibly (second build hits the gzip cache)', async () => {
    const cache = new LayerCache(path.join(tmp, 'cache'));
    const t0 = performance.now();
    const first = await buildAndPush(nodeBaseSpec({ created: CREATED }), `${reg.host}/node-base:20`, { cache });
    const cold = performance.now() - t0;
    const t1 = performance.now();
    const second = await buildAndPush(nodeBaseSpec({ created: CREATED }), `${reg.host}/node-base:again`, { cache });
    const warm = performance.now() - t1;
    console.log(`node base: cold build+push ${cold.toFixed(0)} ms, warm (cached gzip, blobs present) ${warm.toFixed(0)} ms, ${(first.bytesUploaded / 1e6).toFixed(1)} MB`);
    expect(second.digest).toBe(first.digest);
    expect(second.uploadedBlobs).toBe(0);
    expect(cold).toBeLessThan(30_000); // a sanity bound on a loaded 2-core CI box; the benchmark measures speed
  });

  it('layers an app over the base: base mounted or skipped, only the app layer and config uploaded', async () => {
    const t0 = performance.now();
    const res = await buildAndPush(
      { base: `${reg.host}/node-base:20`, layers: [[{ path: '/app/x.js', content: 'console.log(`hello from ${process.version} in ${process.cwd()}`)' }]], cmd: ['/app/x.js'], workingDir: '/app', created: CREATED },
      `${reg.host}/app:v1`,
      { cache: null },
    );
    const ms = performance.now() - t0;
    console.log(`app over node base: build+push ${ms.toFixed(0)} ms, uploaded ${res.uploadedBlobs} (${res.bytesUploaded} B), mounted ${res.mountedBlobs}`);
    expect(res.mountedBlobs).toBe(1);
    expect(res.uploadedBlobs).toBe(2);
    expect(res.bytesUploaded).toBeLessThan(10_000);
    appDigest = res.digest;
  });

  it('skopeo reads the pushed image', async () => {
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/app:v1`]);
    const info = JSON.parse(stdout);
    expect(info.Digest).toBe(appDigest);
    expect(info.Layers).toHaveLength(2);
    expect(info.Architecture).toBe('amd64');
    expect(info.Os).toBe('linux');
    const { stdout: cfg } = await run('skopeo', ['inspect', '--config', '--tls-verify=false', `docker://${reg.host}/app:v1`]);
    expect(JSON.parse(cfg).config.Entrypoint).toEqual(['/usr/bin/node']);
    expect(JSON.parse(cfg).config.Cmd).toEqual(['/app/x.js']);
  });

  it("skopeo (Go's gzip) decompresses every layer, incl. the multi-member base layer, to its diff_id", async () => {
    const dest = path.join(tmp, 'skopeo-dir');
    await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-decompress', `docker://${reg.host}/app:v1`, `dir:${dest}`]);
    const img = await inspectImage(`${reg.host}/app:v1`);
    const files = (await fs.readdir(dest)).filter((f) => /^[0-9a-f]{64}$/.test(f));
    const diffIds = img.config.rootfs.diff_ids.map((d: string) => d.replace('sha256:', ''));
    for (const id of diffIds) expect(files).toContain(id);
  });

  it.skipIf(process.getuid?.() !== 0)('runs: unpacked layers + chroot execute the entrypoint', async () => {
    const img = await inspectImage(`${reg.host}/app:v1`);
    const layers = await Promise.all(img.manifest.layers.map((l: { digest: string }) => pullBlob(`${reg.host}/app:v1`, l.digest)));
    const root = path.join(tmp, 'rootfs');
    await fs.mkdir(root);
    await unpackLayers(layers, root);
    const argv = [...img.config.config.Entrypoint, ...img.config.config.Cmd];
    const { stdout } = await run('/usr/sbin/chroot', [root, ...argv], { env: { PATH: '/usr/bin:/bin' }, cwd: '/' });
    expect(stdout.trim()).toBe(`hello from ${process.version} in /`);
  });
});
