// The version grammar every component shares: `v` followed by a semantic version, exactly as
// written (`v2.5.4`, `v2.5.4-2-g8ccf3c9d`, `v0.0.0-209-g7c608b92-dirty-<hash>`). genversion
// refuses anything else, the install policy compares by it, and image tags are read with it.
import semver, { type SemVer } from 'semver';

/** The parsed version, or undefined unless `v` is `v` + semver written canonically. */
export function parseVersion(v: string): SemVer | undefined {
  if (!/^v\d/.test(v)) return undefined;
  const body = v.slice(1);
  return semver.valid(body) !== null && semver.clean(body) === body ? (semver.parse(body) ?? undefined) : undefined;
}

/**
 * The version an image tag names, in our form: 2.x images are tagged without the `v`
 * (`datawire/tel2:2.5.4`), ours with it. Undefined for tags that are no version (`latest`).
 */
export function versionFromTag(tag: string): string | undefined {
  const v = tag.startsWith('v') ? tag : `v${tag}`;
  return parseVersion(v) ? v : undefined;
}
