// Turns a BuildSpec plus an optional base image into the new image's config and manifest JSON.
// Pure: no I/O, so merge rules are table-tested.
import { ImageError } from '../errors.js';
import { type ContainerConfig, type Descriptor, type HistoryEntry, type ImageConfig, type ImageManifest, MediaType } from './types.js';

/** The creation time used when the caller gives none: fixed so builds stay reproducible (never the wall clock). */
export const EPOCH_CREATED = '1970-01-01T00:00:00Z';

export interface ConfigOverrides {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  exposedPorts?: string[];
  labels?: Record<string, string>;
  created?: string;
}

export function hostPlatform(): { architecture: string; os: string } {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };
  return { architecture: arch[process.arch] ?? process.arch, os: 'linux' };
}

export function validateCreated(created: string | undefined): string {
  if (created === undefined) return EPOCH_CREATED;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(created) || Number.isNaN(Date.parse(created))) {
    throw new ImageError(`created time '${created}' is not an RFC 3339 timestamp`, "pass the commit time, e.g. from 'git log -1 --format=%cI'", {
      code: 'INVALID_SPEC',
    });
  }
  return created;
}

function sortedRecord<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Env merge by variable name: the spec's value replaces the base's, keeping the base's order first. */
export function mergeEnv(base: string[] | undefined, over: string[] | undefined): string[] | undefined {
  if (!over) return base;
  const out = new Map<string, string>();
  for (const kv of [...(base ?? []), ...over]) {
    const eq = kv.indexOf('=');
    const key = eq < 0 ? kv : kv.slice(0, eq);
    out.delete(key);
    out.set(key, kv);
  }
  return [...out.values()];
}

/** Merges the spec's runtime settings over the base image's, with Dockerfile semantics for ENTRYPOINT resetting CMD. */
export function mergeContainerConfig(base: ContainerConfig | undefined, o: ConfigOverrides): ContainerConfig {
  const b = base ?? {};
  const out: ContainerConfig = {};
  const user = o.user ?? b.User;
  if (user) out.User = user;

  const ports: Record<string, Record<string, never>> = { ...(b.ExposedPorts ?? {}) };
  for (const p of o.exposedPorts ?? []) ports[p.includes('/') ? p : `${p}/tcp`] = {};
  if (Object.keys(ports).length) out.ExposedPorts = sortedRecord(ports);

  const env = mergeEnv(b.Env, o.env);
  if (env?.length) out.Env = env;

  if (o.entrypoint) {
    out.Entrypoint = o.entrypoint;
    if (o.cmd) out.Cmd = o.cmd; // a new ENTRYPOINT drops the base's CMD, as in a Dockerfile
  } else {
    if (b.Entrypoint) out.Entrypoint = b.Entrypoint;
    const cmd = o.cmd ?? b.Cmd;
    if (cmd) out.Cmd = cmd;
  }
  const wd = o.workingDir ?? b.WorkingDir;
  if (wd) out.WorkingDir = wd;
  const labels = { ...(b.Labels ?? {}), ...(o.labels ?? {}) };
  if (Object.keys(labels).length) out.Labels = sortedRecord(labels);
  if (b.StopSignal) out.StopSignal = b.StopSignal;
  if (b.Volumes) out.Volumes = b.Volumes;
  return out;
}

export interface NewLayerInfo {
  diffId: string;
  descriptor: Descriptor;
  createdBy: string;
}

/** Builds the image config: the base's rootfs and history followed by ours, created = the caller's time. */
export function buildImageConfig(base: ImageConfig | null, layers: NewLayerInfo[], o: ConfigOverrides): ImageConfig {
  const created = validateCreated(o.created);
  const platform = base ? { architecture: base.architecture, os: base.os } : hostPlatform();
  const history: HistoryEntry[] = [...(base?.history ?? [])];
  for (const l of layers) history.push({ created, created_by: l.createdBy, comment: 'tel-image' });
  const cfg: ImageConfig = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(base?.variant ? { variant: base.variant } : {}),
    config: mergeContainerConfig(base?.config, o),
    rootfs: { type: 'layers', diff_ids: [...(base?.rootfs.diff_ids ?? []), ...layers.map((l) => l.diffId)] },
    history,
  };
  return cfg;
}

/** Layers reused from a docker schema2 base are byte-identical to OCI gzip layers; only the type name differs. */
export function toOciLayerDescriptor(d: Descriptor): Descriptor {
  const mediaType = d.mediaType === MediaType.dockerLayerGzip ? MediaType.ociLayerGzip : d.mediaType;
  const out: Descriptor = { mediaType, digest: d.digest, size: d.size };
  if (d.urls) out.urls = d.urls;
  if (d.annotations) out.annotations = d.annotations;
  return out;
}

export function buildManifest(config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): ImageManifest {
  const m: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
    layers,
  };
  if (annotations && Object.keys(annotations).length) m.annotations = sortedRecord(annotations);
  return m;
}
