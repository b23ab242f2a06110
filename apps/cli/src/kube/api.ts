// A thin Kubernetes REST client for the CLI and the user daemon: JSON over node:http(s) with the
// kubeconfig's TLS, credentials and proxy applied by client-node's KubeConfig. Boundary: CLI / user
// daemon → Kubernetes API server. No generated API classes: loading them costs every process that
// carries the client ~17 MiB (all ~600 model classes come with any one of them).
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig, KubernetesListObject, KubernetesObject, V1Status } from '@kubernetes/client-node';

/**
 * The one error of a Kubernetes API call that got an answer: the HTTP status and the API server's
 * Status object (or its text when it was not JSON). Network failures stay Node's own errors.
 */
export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: V1Status | string | undefined,
    what: string,
  ) {
    const message = typeof body === 'object' && body?.message ? body.message : typeof body === 'string' && body.trim() ? body.trim().split('\n')[0]! : (http.STATUS_CODES[statusCode] ?? 'no message');
    super(`${what}: HTTP ${statusCode}: ${message}`);
    this.name = 'KubeApiError';
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface CallOptions {
  query?: Query;
  /** Ends the request (and its socket) when it fires. */
  signal?: AbortSignal;
  /** Gives up when no answer is complete after this long. */
  timeoutMs?: number;
  /** Sees the request once sent (e.g. to learn whether its TCP connection was made). */
  onRequest?: (req: http.ClientRequest) => void;
}

export interface ListOptions extends CallOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  limit?: number;
}

/** The patch kinds the API server takes, as we name them. */
export type PatchType = 'merge' | 'strategic-merge' | 'json' | 'apply';
const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  'strategic-merge': 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  // JSON is YAML: server-side apply takes the object as JSON text.
  apply: 'application/apply-patch+yaml',
};

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  object: T;
}

export interface KubeList<T> extends KubernetesListObject<T & KubernetesObject> {
  items: (T & KubernetesObject)[];
}

/**
 * The API path of a resource collection or one object: `resourcePath('apps/v1', 'deployments', 'ns', 'x')`
 * is `/apis/apps/v1/namespaces/ns/deployments/x`; a core `v1` resource lives under `/api/v1`.
 */
export function resourcePath(apiVersion: string, plural: string, namespace?: string, name?: string): string {
  const root = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${root}${ns}/${plural}${name !== undefined ? `/${encodeURIComponent(name)}` : ''}`;
}

interface Send extends CallOptions {
  method: string;
  body?: unknown;
  contentType?: string;
  accept?: string;
}

export class KubeApi {
  constructor(readonly kc: KubeConfig) {}

  get<T>(path: string, opts: CallOptions = {}): Promise<T> {
    return this.json<T>(path, { ...opts, method: 'GET' });
  }

  list<T>(path: string, opts: ListOptions = {}): Promise<KubeList<T>> {
    return this.json<KubeList<T>>(path, { ...opts, method: 'GET', query: { ...listQuery(opts), ...opts.query } });
  }

  create<T>(path: string, body: unknown, opts: CallOptions = {}): Promise<T> {
    return this.json<T>(path, { ...opts, method: 'POST', body });
  }

  /** PATCH of one object; `apply` is server-side apply, which needs a field manager. */
  patch<T>(path: string, body: unknown, type: PatchType, opts: CallOptions & { fieldManager?: string; force?: boolean } = {}): Promise<T> {
    const query: Query = { ...opts.query, fieldManager: opts.fieldManager, force: opts.force };
    return this.json<T>(path, { ...opts, method: 'PATCH', body, contentType: PATCH_CONTENT_TYPES[type], query });
  }

  delete<T = V1Status>(path: string, opts: CallOptions & { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan' } = {}): Promise<T> {
    return this.json<T>(path, { ...opts, method: 'DELETE', query: { ...opts.query, propagationPolicy: opts.propagationPolicy } });
  }

  /** A plain-text answer, e.g. a container's log (`.../pods/<pod>/log?container=c`). */
  async text(path: string, opts: CallOptions = {}): Promise<string> {
    return this.send(path, { ...opts, method: 'GET', accept: 'text/plain, */*' });
  }

  /**
   * Opens a watch (newline-delimited JSON events) and resolves once the API server accepted it;
   * `done` then settles when the stream ends: resolved when the server closed it, rejected with
   * a KubeApiError for an ERROR event (410 Gone: the resourceVersion is too old) or with the
   * network error. Ends with `signal`.
   */
  async watch<T>(path: string, opts: ListOptions, onEvent: (event: WatchEvent<T>) => void): Promise<{ done: Promise<void> }> {
    const query: Query = { ...listQuery(opts), ...opts.query, watch: true, allowWatchBookmarks: true };
    const res = await this.open(path, { ...opts, query, method: 'GET' });
    if (res.statusCode !== 200) throw await apiFailure(res, `watch ${path}`);
    const done = new Promise<void>((resolve, reject) => {
      let buffered = '';
      let failed = false;
      const fail = (err: unknown) => {
        failed = true;
        reject(err);
        res.destroy();
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (failed) return;
        buffered += chunk;
        let nl: number;
        while (!failed && (nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          let event: { type?: string; object?: unknown };
          try {
            event = JSON.parse(line) as typeof event;
          } catch {
            fail(new Error(`watch ${path}: the API server sent a line that is not JSON: ${line.slice(0, 120)}`));
            return;
          }
          if (event.type === 'ERROR') {
            const status = event.object as V1Status | undefined;
            fail(new KubeApiError(status?.code ?? 500, status, `watch ${path}`));
            return;
          }
          if (event.type === 'ADDED' || event.type === 'MODIFIED' || event.type === 'DELETED' || event.type === 'BOOKMARK') onEvent(event as WatchEvent<T>);
        }
      });
      res.on('end', () => (failed ? undefined : resolve()));
      // Ended by the signal: its reason, not the socket's `aborted`.
      const cause = (err: unknown) => (opts.signal?.aborted ? (opts.signal.reason ?? err) : err);
      res.on('close', () => (failed || res.complete ? undefined : fail(cause(new Error(`watch ${path}: the connection to the API server closed`)))));
      res.on('error', (err) => (failed ? undefined : fail(cause(err))));
    });
    return { done };
  }

  private async json<T>(path: string, opts: Send): Promise<T> {
    const text = await this.send(path, { ...opts, accept: 'application/json' });
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** One request whose whole answer is read; a status outside 2xx becomes a KubeApiError. */
  private async send(path: string, opts: Send): Promise<string> {
    const deadline = opts.timeoutMs !== undefined ? AbortSignal.timeout(opts.timeoutMs) : undefined;
    const signal = deadline && opts.signal ? AbortSignal.any([opts.signal, deadline]) : (deadline ?? opts.signal);
    const res = await this.open(path, { ...opts, ...(signal ? { signal } : {}) });
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw await apiFailure(res, `${opts.method} ${path}`);
    return readAll(res);
  }

  /** Sends the request and resolves with the response once its headers arrived. */
  private async open(path: string, opts: Send): Promise<http.IncomingMessage> {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: http.OutgoingHttpHeaders = { Accept: opts.accept ?? 'application/json', ...(payload ? { 'Content-Type': opts.contentType ?? 'application/json', 'Content-Length': payload.length } : {}) };
    const { url, init } = await requestTarget(this.kc, `${path}${queryString(opts.query)}`, { method: opts.method, headers });
    opts.signal?.throwIfAborted();
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = (url.protocol === 'http:' ? http : https).request(url, { ...init, ...(opts.signal ? { signal: opts.signal } : {}) }, resolve);
      opts.onRequest?.(req);
      req.on('error', (err) => reject(opts.signal?.aborted ? (opts.signal.reason ?? err) : err));
      req.end(payload);
    });
  }
}

/**
 * The URL of `path` on the current cluster's API server (after any path prefix in `server`) and
 * `init` with the TLS material, the credentials (exec plugins and OIDC refresh here) and the proxy
 * agent of the kubeconfig applied.
 */
export async function requestTarget(kc: KubeConfig, path: string, init: https.RequestOptions): Promise<{ url: URL; init: https.RequestOptions }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster; set a context with kubectl config use-context');
  const url = new URL(`${cluster.server.replace(/\/+$/, '')}${path}`);
  await kc.applyToHTTPSOptions(init);
  return { url, init };
}

/** One KubeApi per kubeconfig: callers pass the KubeConfig around, the client is made on first use. */
const clients = new WeakMap<KubeConfig, KubeApi>();
export function kubeApi(kc: KubeConfig): KubeApi {
  let api = clients.get(kc);
  if (!api) clients.set(kc, (api = new KubeApi(kc)));
  return api;
}

function listQuery(o: ListOptions): Query {
  return { labelSelector: o.labelSelector, fieldSelector: o.fieldSelector, resourceVersion: o.resourceVersion, limit: o.limit };
}

function queryString(q: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q ?? {})) if (v !== undefined && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (d: Buffer) => parts.push(d));
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', reject);
    res.on('close', () => (res.complete ? undefined : reject(new Error('the connection to the API server closed mid-answer'))));
  });
}

/** A non-2xx answer as a KubeApiError with the API server's Status object when it sent one. */
export async function apiFailure(res: http.IncomingMessage, what: string): Promise<KubeApiError> {
  const text = await readAll(res).catch(() => '');
  let body: V1Status | string | undefined = text || undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object') body = parsed as V1Status;
  } catch {
    // not a Status object: keep the text
  }
  return new KubeApiError(res.statusCode ?? 0, body, what);
}
