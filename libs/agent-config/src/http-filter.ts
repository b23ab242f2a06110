// A personal intercept's filter (the 2.x flags --http-header, --http-path-equal, --http-path-prefix,
// --http-path-regex), parsed once when the intercept is made and then matched against every
// HTTP request the agent's routers read (HTTP/1.1 heads, HTTP/2 streams). One parser for the CLI
// (fails fast), the manager (refuses a bad spec) and the agent (compiles what it matches).
import type { HttpFilterSpec } from '@tel/contracts';

export interface HeaderRule {
  /** Lower-cased header name. */
  name: string;
  /** Anchored to the whole field value. */
  value: RegExp;
}

export type PathRule = { kind: 'equal'; path: string } | { kind: 'prefix'; path: string } | { kind: 'regex'; re: RegExp };

export interface Filter {
  headers: HeaderRule[];
  path?: PathRule;
}

/** What the router knows of a request when it chooses. */
export interface RequestHead {
  method: string;
  /** The request-target's path: no query, percent-decoded when that is valid. */
  path: string;
  /** Lower-cased names; a field sent more than once has all its values, in order. */
  headers: Map<string, string[]>;
}

// RFC 9110 token: what a header name may be.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function compileWhole(source: string, what: string): RegExp | string {
  try {
    // Anchored to the whole value, as 2.x matches it; a group keeps `a|b` from anchoring only one side.
    return new RegExp(`^(?:${source})$`);
  } catch (e) {
    return `${what}: ${(e as Error).message}; fix the regular expression (use \\ before a literal . * + ? ( ) [ ] { } | ^ $)`;
  }
}

/** Parses the flags; a mistake comes back as one line saying which flag and how to fix it. */
export function parseFilter(spec: HttpFilterSpec): { filter: Filter } | { error: string } {
  const headers: HeaderRule[] = [];
  for (const h of spec.headers ?? []) {
    const eq = h.indexOf('=');
    if (eq <= 0) return { error: `--http-header ${JSON.stringify(h)}: expected NAME=VALUE, e.g. --http-header x-dev=alice` };
    const name = h.slice(0, eq).trim();
    if (!TOKEN.test(name)) return { error: `--http-header ${JSON.stringify(h)}: ${JSON.stringify(name)} is not a valid header name (letters, digits and !#$%&'*+.^_\`|~- only)` };
    const value = compileWhole(h.slice(eq + 1), `--http-header ${JSON.stringify(h)}`);
    if (typeof value === 'string') return { error: value };
    headers.push({ name: name.toLowerCase(), value });
  }
  const paths = [
    spec.pathEqual !== undefined ? '--http-path-equal' : '',
    spec.pathPrefix !== undefined ? '--http-path-prefix' : '',
    spec.pathRegex !== undefined ? '--http-path-regex' : '',
  ].filter(Boolean);
  if (paths.length > 1) return { error: `${paths.join(' and ')} given together; use only one of --http-path-equal, --http-path-prefix, --http-path-regex` };
  let path: PathRule | undefined;
  if (spec.pathEqual !== undefined) {
    if (!spec.pathEqual.startsWith('/')) return { error: `--http-path-equal ${JSON.stringify(spec.pathEqual)}: a path starts with /, e.g. /api/users` };
    path = { kind: 'equal', path: spec.pathEqual };
  } else if (spec.pathPrefix !== undefined) {
    if (!spec.pathPrefix.startsWith('/')) return { error: `--http-path-prefix ${JSON.stringify(spec.pathPrefix)}: a path starts with /, e.g. /api/` };
    path = { kind: 'prefix', path: spec.pathPrefix };
  } else if (spec.pathRegex !== undefined) {
    const re = compileWhole(spec.pathRegex, `--http-path-regex ${JSON.stringify(spec.pathRegex)}`);
    if (typeof re === 'string') return { error: re };
    path = { kind: 'regex', re };
  }
  if (headers.length === 0 && !path) return { error: 'a personal intercept needs a filter: give --http-header NAME=VALUE or one of --http-path-equal, --http-path-prefix, --http-path-regex' };
  return { filter: { headers, path } };
}

/** The filter as the flags that made it, for logs and `list`: `--http-header x-dev=alice --http-path-prefix /api`. */
export function describeFilter(spec: HttpFilterSpec): string {
  const parts = (spec.headers ?? []).map((h) => `--http-header ${h}`);
  if (spec.pathEqual !== undefined) parts.push(`--http-path-equal ${spec.pathEqual}`);
  if (spec.pathPrefix !== undefined) parts.push(`--http-path-prefix ${spec.pathPrefix}`);
  if (spec.pathRegex !== undefined) parts.push(`--http-path-regex ${spec.pathRegex}`);
  return parts.join(' ');
}

function pathMatches(rule: PathRule, path: string): boolean {
  switch (rule.kind) {
    case 'equal':
      return path === rule.path;
    case 'prefix':
      return path.startsWith(rule.path);
    case 'regex':
      return rule.re.test(path);
  }
}

/** True when every header rule finds a field value it matches whole, and the path rule (if any) holds. */
export function matches(filter: Filter, req: RequestHead): boolean {
  for (const rule of filter.headers) {
    const values = req.headers.get(rule.name);
    if (!values || !values.some((v) => rule.value.test(v))) return false;
  }
  return filter.path === undefined || pathMatches(filter.path, req.path);
}

/** The path of a request-target (origin-form or absolute-form), without its query, percent-decoded if valid. */
export function targetPath(target: string): string {
  let path = target;
  if (!path.startsWith('/')) {
    // absolute-form (http://host:port/p?q): the path starts at the first / after the authority.
    const scheme = path.indexOf('://');
    if (scheme < 0) return path; // authority-form (CONNECT) or `*`
    const slash = path.indexOf('/', scheme + 3);
    path = slash < 0 ? '/' : path.slice(slash);
  }
  const cut = path.search(/[?#]/);
  if (cut >= 0) path = path.slice(0, cut);
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

// What a Service port declares about its traffic: appProtocol (IANA service names, or
// kubernetes.io/h2c and kubernetes.io/ws), else its name's `<protocol>[-suffix]` prefix, the
// convention meshes read. Either may say the port is not plain HTTP, and a filter can't apply there.
const HTTP_APP_PROTOCOLS = new Set(['http', 'http2', 'h2c', 'grpc', 'grpc-web', 'ws', 'kubernetes.io/h2c', 'kubernetes.io/ws']);
const NOT_HTTP_NAME_PREFIXES = new Set(['https', 'tls', 'tcp', 'udp', 'mongo', 'mysql', 'redis', 'postgres', 'postgresql', 'kafka', 'amqp', 'mqtt', 'wss']);

/**
 * Why a personal intercept's filter can't work on this port (its traffic is declared to be TLS or
 * another non-HTTP protocol), or undefined. An undeclared port is taken for HTTP; traffic on it that
 * turns out not to be HTTP goes to the app, never to a filter's owner.
 */
export function notHttpReason(port: { servicePortName?: string; appProtocol?: string }): string | undefined {
  if (port.appProtocol) {
    const p = port.appProtocol.toLowerCase();
    return HTTP_APP_PROTOCOLS.has(p) ? undefined : `its appProtocol is ${port.appProtocol}, not HTTP`;
  }
  const prefix = port.servicePortName?.toLowerCase().split('-')[0];
  return prefix && NOT_HTTP_NAME_PREFIXES.has(prefix) ? `its name ${port.servicePortName} says ${prefix}, not HTTP` : undefined;
}
