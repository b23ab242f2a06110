// Attaches an SBOM to an image in its registry as an OCI 1.1 referrer: an artifact manifest whose
// `subject` is the image. A registry that implements the referrers API says so by answering the
// push with an `OCI-Subject` header; for one that does not (Debian's docker-registry, Distribution
// 2.8, does not), the spec's fallback is kept as well: an image index at the tag
// `sha256-<image digest hex>` listing the image's referrers, which clients such as oras and cosign read.
import { createHash } from 'node:crypto';
import { ImageError, MediaType, RegistryClient, parseImageRef } from '@tel/image';

export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';
/** OCI 1.1's empty config descriptor for artifacts that have no config. */
const EMPTY_CONFIG = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };

const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface AttachResult {
  /** The image the SBOM is attached to, by digest. */
  subject: string;
  /** The SBOM artifact's manifest digest. */
  referrer: string;
  /** How clients find it: the registry's referrers API, or the fallback tag. */
  listedBy: 'referrers-api' | 'tag-schema';
  /** The fallback tag (tag-schema only). */
  tag?: string;
}

/** The fallback tag of an image digest (OCI distribution spec 1.1, "referrers tag schema"). */
export function referrersTag(subjectDigest: string): string {
  return subjectDigest.replace(':', '-');
}

export async function attachSbom(imageRef: string, sbom: Buffer, fileName: string, client?: RegistryClient): Promise<AttachResult> {
  const ref = parseImageRef(imageRef);
  const registry = client ?? new RegistryClient(ref.registry);
  const image = await registry.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
  if (!image) throw new ImageError(`${imageRef} is not in the registry`, "push it first: 'npx nx run traffic-manager:push-image'", { code: 'NOT_FOUND', category: 'cluster' });
  // 1. the blobs: the SBOM and the empty config.
  const sbomDigest = digestOf(sbom);
  await registry.putBlob(ref.repository, sbomDigest, async () => sbom);
  await registry.putBlob(ref.repository, EMPTY_CONFIG.digest, async () => Buffer.from('{}'));
  // 2. the artifact manifest, pointing at the image. No timestamp: the same SBOM gives the same digest.
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: CYCLONEDX_MEDIA_TYPE,
    config: EMPTY_CONFIG,
    layers: [{ mediaType: CYCLONEDX_MEDIA_TYPE, digest: sbomDigest, size: sbom.length, annotations: { 'org.opencontainers.image.title': fileName } }],
    subject: { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length },
    annotations: { 'org.opencontainers.image.title': fileName },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const referrer = digestOf(bytes);
  const subjectHeader = await putManifestSeeingSubject(registry, ref.repository, referrer, bytes);
  if (subjectHeader === image.digest) return { subject: image.digest, referrer, listedBy: 'referrers-api' };
  // 3. the fallback: add the artifact to the index at sha256-<hex>, keeping what others listed there.
  const tag = referrersTag(image.digest);
  const existing = await registry.getManifest(ref.repository, tag);
  const listed: any[] = existing?.json?.manifests ?? [];
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      ...listed.filter((d) => d.digest !== referrer),
      { mediaType: MediaType.ociManifest, digest: referrer, size: bytes.length, artifactType: CYCLONEDX_MEDIA_TYPE, annotations: manifest.annotations },
    ],
  };
  await registry.putManifest(ref.repository, tag, Buffer.from(JSON.stringify(index)), MediaType.ociIndex, `referrers of ${ref.repository}@${image.digest}`);
  return { subject: image.digest, referrer, listedBy: 'tag-schema', tag };
}

/** PUT the manifest by digest; the `OCI-Subject` response header, when the registry sends one. */
async function putManifestSeeingSubject(registry: RegistryClient, repo: string, digest: string, bytes: Buffer): Promise<string | null> {
  const res = await registry.request(`store the SBOM manifest in ${repo}`, 'PUT', `${registry.baseUrl}/v2/${repo}/manifests/${digest}`, {
    scopes: [`repository:${repo}:pull,push`],
    body: bytes,
    headers: { 'content-type': MediaType.ociManifest, 'content-length': String(bytes.length) },
  });
  const subject = res.headers.get('oci-subject');
  const text = res.ok ? '' : await res.text().catch(() => '');
  await res.body?.cancel().catch(() => undefined);
  if (!res.ok) throw new ImageError(`${registry.host} refused the SBOM manifest for ${repo} (${res.status} ${text.trim().slice(0, 200)})`, 'use a registry that stores OCI artifact manifests (Distribution 2.8+)', { code: 'MANIFEST_REJECTED', category: 'cluster' });
  return subject;
}

/** The SBOM referrers of an image: from the referrers API when the registry has one, else the fallback tag. */
export async function listSbomReferrers(imageRef: string, client?: RegistryClient): Promise<{ digest: string; listedBy: AttachResult['listedBy'] }[]> {
  const ref = parseImageRef(imageRef);
  const registry = client ?? new RegistryClient(ref.registry);
  const subject = ref.digest ?? (await registry.headManifest(ref.repository, ref.tag ?? 'latest'));
  if (!subject) return [];
  const api = await registry.request(`list referrers of ${ref.repository}`, 'GET', `${registry.baseUrl}/v2/${ref.repository}/referrers/${subject}?artifactType=${encodeURIComponent(CYCLONEDX_MEDIA_TYPE)}`, {
    scopes: [`repository:${ref.repository}:pull`],
  });
  if (api.ok && api.headers.get('content-type')?.startsWith(MediaType.ociIndex)) {
    const idx = (await api.json()) as { manifests?: { digest: string; artifactType?: string }[] };
    return (idx.manifests ?? []).filter((m) => m.artifactType === CYCLONEDX_MEDIA_TYPE).map((m) => ({ digest: m.digest, listedBy: 'referrers-api' as const }));
  }
  await api.body?.cancel().catch(() => undefined);
  const fallback = await registry.getManifest(ref.repository, referrersTag(subject));
  const manifests: { digest: string; artifactType?: string }[] = fallback?.json?.manifests ?? [];
  return manifests.filter((m) => m.artifactType === CYCLONEDX_MEDIA_TYPE).map((m) => ({ digest: m.digest, listedBy: 'tag-schema' as const }));
}
