// A personal intercept's flags (--http-header, --http-path-equal, --http-path-prefix,
// --http-path-regex, as in 2.x) → the filter the manager and its agents apply. Checked by the one
// parser (@tel/agent-config parseFilter) in the CLI, before anything starts, and again in the user
// daemon, which also turns `--http-header=auto` into a header unique to the intercept.
import type { HttpFilterSpec } from '@tel/contracts';
import { parseFilter } from '@tel/agent-config';
import { userError } from '@tel/errors';

/** `--http-header=auto`: a header made for this intercept, printed for the user to send. */
export const AUTO_HEADER = 'auto';
/** The header `auto` becomes (2.x's name, so existing tooling that sets it keeps working). */
export const AUTO_HEADER_NAME = 'x-telepresence-intercept-id';

export interface FilterFlags {
  httpHeader: string[];
  httpPathEqual?: string;
  httpPathPrefix?: string;
  httpPathRegex?: string;
}

/** The filter the flags ask for; undefined: none given (a global intercept). */
export function filterFromFlags(f: FilterFlags): HttpFilterSpec | undefined {
  const spec: HttpFilterSpec = {
    ...(f.httpHeader.length ? { headers: f.httpHeader } : {}),
    ...(f.httpPathEqual !== undefined ? { pathEqual: f.httpPathEqual } : {}),
    ...(f.httpPathPrefix !== undefined ? { pathPrefix: f.httpPathPrefix } : {}),
    ...(f.httpPathRegex !== undefined ? { pathRegex: f.httpPathRegex } : {}),
  };
  if (Object.keys(spec).length === 0) return undefined;
  checkFilter(withAuto(spec, 'x'));
  return spec;
}

/** `auto` replaced by `x-telepresence-intercept-id=<session>:<name>` (the value matched literally), then checked. */
export function personalFilter(spec: HttpFilterSpec, sessionId: string, name: string): HttpFilterSpec {
  const resolved = withAuto(spec, `${sessionId}:${name}`);
  checkFilter(resolved);
  return resolved;
}

/** The literal header a request must carry to reach an `auto` intercept, if the filter has one. */
export function autoHeader(spec: HttpFilterSpec | undefined): { name: string; value: string } | undefined {
  const h = spec?.headers?.find((x) => x.toLowerCase().startsWith(`${AUTO_HEADER_NAME}=`));
  return h ? { name: AUTO_HEADER_NAME, value: h.slice(AUTO_HEADER_NAME.length + 1).replace(/\\(.)/g, '$1') } : undefined;
}

function withAuto(spec: HttpFilterSpec, value: string): HttpFilterSpec {
  if (!spec.headers?.includes(AUTO_HEADER)) return spec;
  const literal = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return { ...spec, headers: spec.headers.map((h) => (h === AUTO_HEADER ? `${AUTO_HEADER_NAME}=${literal}` : h)) };
}

function checkFilter(spec: HttpFilterSpec): void {
  const r = parseFilter(spec);
  if ('error' in r) {
    const [what, ...how] = r.error.split('; ');
    throw userError(what!, how.join('; ') || 'see telepresence intercept --help');
  }
}
