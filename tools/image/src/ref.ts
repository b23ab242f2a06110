// Image reference parsing and formatting ("registry/repo/path:tag@sha256:..."), the user-input boundary of @tel/image.
import { ImageError } from './errors.js';

export interface ImageRef {
  /** Registry host with optional port, e.g. "127.0.0.1:5000" or "docker.io". */
  registry: string;
  /** Repository path inside the registry, e.g. "tel2" or "datawire/tel2". */
  repository: string;
  tag?: string;
  /** Content digest, "sha256:<64 hex>". When both tag and digest are set, the digest wins for pulls. */
  digest?: string;
}

export const DEFAULT_REGISTRY = 'docker.io';

// Grammar from the distribution reference spec (protocol facts, not copied code).
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]{1,5})?$/;

function invalid(ref: string, why: string): ImageError {
  return new ImageError(
    `invalid image reference '${ref}': ${why}`,
    "use the form 'host[:port]/repository[:tag][@sha256:<digest>]', e.g. '127.0.0.1:5000/tel2:v2.5.4'",
    { code: 'INVALID_REF' },
  );
}

/** Parses an image reference. A missing registry means docker.io; a missing tag and digest means "latest". */
export function parseImageRef(ref: string): ImageRef {
  const input = ref.trim();
  if (!input) throw invalid(ref, 'it is empty');
  if (/\s/.test(input)) throw invalid(ref, 'it contains whitespace');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref, `digest '${digest}' is not 'sha256:' followed by 64 lowercase hex digits`);
  }

  // The first component is a registry host only if it looks like one; this is how docker decides too.
  let registry = DEFAULT_REGISTRY;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      if (!HOST.test(first)) throw invalid(ref, `registry host '${first}' is malformed`);
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `tag '${tag}' must be 1-128 of [A-Za-z0-9_.-] and not start with '.' or '-'`);
  }

  if (!rest) throw invalid(ref, 'the repository name is missing');
  for (const component of rest.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(ref, `repository component '${component}' must be lowercase letters, digits and single separators (. _ __ -)`);
    }
  }
  if (registry === DEFAULT_REGISTRY && !rest.includes('/')) rest = `library/${rest}`;
  if (rest.length > 255) throw invalid(ref, 'the repository name is longer than 255 characters');

  const out: ImageRef = { registry, repository: rest };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  if (out.tag === undefined && out.digest === undefined) out.tag = 'latest';
  return out;
}

export function formatImageRef(r: ImageRef): string {
  let s = `${r.registry}/${r.repository}`;
  if (r.tag) s += `:${r.tag}`;
  if (r.digest) s += `@${r.digest}`;
  return s;
}

/** The reference used in registry URLs: digest when known (immutable), else tag. */
export function manifestReference(r: ImageRef): string {
  return r.digest ?? r.tag ?? 'latest';
}
