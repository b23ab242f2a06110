// The image SBOM as an OCI referrer, against a real registry (Debian's docker-registry on loopback).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndPush, RegistryClient } from '@tel/image';
import { startRegistry, type TestRegistry } from '@tel/image/testing';
import { attachSbom, listSbomReferrers, referrersTag } from './referrer.js';

let registry: TestRegistry;
let image: string;

beforeAll(async () => {
  registry = await startRegistry();
  image = `${registry.host}/tel2:v1.2.3`;
  await buildAndPush({ base: null, layers: [[{ path: '/hello.txt', content: 'hello' }]], created: '1970-01-01T00:00:00Z' }, image);
}, 60_000);

afterAll(async () => {
  await registry?.stop();
});

describe('attachSbom', () => {
  it('pushes an artifact manifest whose subject is the image, findable by the fallback tag, and again idempotently', async () => {
    const sbom = Buffer.from('{"bomFormat":"CycloneDX"}\n');
    const first = await attachSbom(image, sbom, 'tel2-v1.2.3.cdx.json');
    const client = new RegistryClient(registry.host);
    const subject = await client.headManifest('tel2', 'v1.2.3');
    expect(first.subject).toBe(subject);
    // Distribution 2.8 has no referrers API: the fallback tag must carry it.
    expect(first.listedBy).toBe('tag-schema');
    expect(first.tag).toBe(referrersTag(subject!));
    const artifact = await client.getManifest('tel2', first.referrer);
    expect(artifact!.json.subject.digest).toBe(subject);
    expect(artifact!.json.artifactType).toBe('application/vnd.cyclonedx+json');
    const blob = await client.getBlob('tel2', artifact!.json.layers[0].digest);
    expect(blob.equals(sbom)).toBe(true);

    const again = await attachSbom(image, sbom, 'tel2-v1.2.3.cdx.json');
    expect(again.referrer).toBe(first.referrer);
    const listed = await listSbomReferrers(image);
    expect(listed).toEqual([{ digest: first.referrer, listedBy: 'tag-schema' }]);
  });

  it('keeps other referrers in the fallback index and adds a changed SBOM beside them', async () => {
    const a = await attachSbom(image, Buffer.from('{"a":1}\n'), 'a.cdx.json');
    const listed = (await listSbomReferrers(image)).map((r) => r.digest);
    expect(listed).toContain(a.referrer);
    expect(listed.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses, in one line, an image that is not in the registry', async () => {
    await expect(attachSbom(`${registry.host}/tel2:v9.9.9`, Buffer.from('{}'), 'x.cdx.json')).rejects.toThrow(/tel2:v9\.9\.9 is not in the registry/);
  });
});
