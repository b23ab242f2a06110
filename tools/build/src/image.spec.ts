// The tel2 image of a build, pushed to a real registry (Debian's docker-registry on loopback):
// reproducible, re-push uploads nothing, and verify-version reads the version back out of it.
import { AGENT_BUNDLE_PATH } from '@tel/agent-config';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndPush, inspectImage } from '@tel/image';
import { startRegistry, type TestRegistry } from '@tel/image/testing';
import { workspaceRoot, type BuildInfo } from '@tel/genversion';
import { bundleApp } from './bundle.js';
import { IMAGE_BUNDLE_PATH, IMAGE_NFT_PATH, pushBaseImage, pushTrafficManagerImage, trafficManagerImageSpec } from './image.js';
import { verifyImage } from './verify.js';

let registry: TestRegistry;
let tmp: string;
let info: BuildInfo;

beforeAll(async () => {
  registry = await startRegistry();
  tmp = mkdtempSync(join(tmpdir(), 'tel-image-'));
  info = {
    version: 'v2.5.4-2-g8ccf3c9d',
    source: 'env',
    dirty: false,
    revision: '8ccf3c9d0000000000000000000000000000beef',
    commitTime: '2024-01-02T03:04:05.000Z',
    registry: registry.host,
    image: `${registry.host}/tel2:v2.5.4-2-g8ccf3c9d`,
    sourceUrl: 'https://example.invalid/fork.git',
  };
  await bundleApp(workspaceRoot(__dirname), 'traffic-manager', info, tmp);
  await pushBaseImage(info);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('tel2 image', () => {
  it('carries version, revision, source and created as annotations, labels and env', async () => {
    const first = await pushTrafficManagerImage(info, tmp);
    const img = await inspectImage(info.image);
    expect(img.digest).toBe(first.digest);
    expect(img.manifest.annotations).toMatchObject({
      'org.opencontainers.image.version': info.version,
      'org.opencontainers.image.revision': info.revision,
      'org.opencontainers.image.source': info.sourceUrl,
      'org.opencontainers.image.created': info.commitTime,
    });
    expect(img.config.created).toBe(info.commitTime);
    expect(img.config.config.Entrypoint).toEqual(['/usr/bin/node', IMAGE_BUNDLE_PATH]);
    expect(img.config.config.Cmd).toEqual(['manager']);
    const findings = await verifyImage(info, IMAGE_BUNDLE_PATH);
    expect(findings.every((f) => f.ok)).toBe(true);
    expect(findings).toHaveLength(4);
  });

  it('carries nft and its libraries for the agent-init role, below the bundles (manager, and the agent on its own)', () => {
    const spec = trafficManagerImageSpec(info, join(tmp, 'traffic-manager', 'main.js'));
    const paths = spec.layers[0]!.map((e) => e.path);
    expect(paths).toContain(IMAGE_NFT_PATH);
    expect(paths.some((p) => /libnftables\.so/.test(p))).toBe(true);
    expect(spec.layers[1]!.map((e) => e.path)).toEqual([IMAGE_BUNDLE_PATH, AGENT_BUNDLE_PATH]);
  });

  it('is reproducible and a re-push uploads nothing', async () => {
    const a = await pushTrafficManagerImage(info, tmp);
    const b = await pushTrafficManagerImage(info, tmp);
    expect(b.digest).toBe(a.digest);
    expect(b.uploadedBlobs).toBe(0);
    expect(b.bytesUploaded).toBe(0);
  });

  it('verify-version names the artifact that carries another version', async () => {
    const spec = trafficManagerImageSpec(info, join(tmp, 'traffic-manager', 'main.js'));
    // An image whose annotation was tampered with, under the tag verify reads.
    spec.annotations = { ...spec.annotations, 'org.opencontainers.image.version': 'v9.9.9' };
    await buildAndPush(spec, info.image);
    const bad = (await verifyImage(info, IMAGE_BUNDLE_PATH)).filter((f) => !f.ok);
    expect(bad).toEqual([{ artifact: `${info.image} manifest annotation org.opencontainers.image.version`, version: 'v9.9.9', ok: false }]);
  });

  it('a missing base image fails with the command that pushes it, and writes no tag', async () => {
    const other = { ...info, version: 'v7.0.0', image: `${registry.host}/tel2:v7.0.0` };
    const spec = trafficManagerImageSpec(other, join(tmp, 'traffic-manager', 'main.js'), { TELEPRESENCE_BASE_IMAGE: `${registry.host}/no-such-base:1` });
    await expect(buildAndPush(spec, other.image)).rejects.toMatchObject({ code: 'BASE_NOT_FOUND' });
    await expect(inspectImage(other.image)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
