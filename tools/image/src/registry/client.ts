// Distribution API v2 client for one registry host: blobs (HEAD, GET, mount, monolithic upload) and manifests,
// with plain HTTP for loopback/insecure registries and Basic or Bearer-token auth answered from challenges.
import { createHash } from 'node:crypto';
import { ImageError } from '../errors.js';
import { MANIFEST_ACCEPT } from '../oci/types.js';
import { basicHeader, type Challenge, credentialHelperFor, credentialsFromDockerConfig, parseChallenge, type RegistryAuth } from './auth.js';
import { errorCode, httpError, registryErrorText, transportError, unauthorized } from './errors.js';

export interface RegistryClientOptions {
  /** Explicit credentials; default: the Docker config file's entry for this host. */
  auth?: RegistryAuth;
  /** Path of a Docker config.json to read credentials from (default $DOCKER_CONFIG/config.json or ~/.docker/config.json). */
  dockerConfig?: string;
  signal?: AbortSignal;
  /** Per-request timeout; a stuck registry must not hang a push forever. */
  requestTimeoutMs?: number;
}

/** Loopback registries speak plain HTTP (like docker's default insecure 127.0.0.0/8); others need HTTPS unless listed. */
export function isInsecureRegistry(host: string, env = process.env.TELEPRESENCE_REGISTRY_INSECURE): boolean {
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  if (hostname === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]') return true;
  const listed = (env ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  return listed.includes(host.toLowerCase()) || listed.includes(hostname.toLowerCase());
}

export function registryBaseUrl(host: string): string {
  const apiHost = host === 'docker.io' ? 'registry-1.docker.io' : host;
  return `${isInsecureRegistry(host) ? 'http' : 'https'}://${apiHost}`;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  json: any;
}

export type UploadOutcome = 'mounted' | 'uploaded';

interface RequestInit2 {
  headers?: Record<string, string>;
  body?: Buffer;
  /** Token scopes this request needs, e.g. ["repository:tel2:pull,push"]. */
  scopes: string[];
}

export class RegistryClient {
  readonly baseUrl: string;
  /** HTTP requests sent so far (including auth retries); tests and benchmarks read it. */
  requestCount = 0;
  private credentials: Promise<{ username: string; password: string } | null> | undefined;
  private mode: 'anonymous' | 'basic' | 'bearer' = 'anonymous';
  private bearerChallenge: Challenge | null = null;
  private readonly tokens = new Map<string, string>();

  constructor(
    readonly host: string,
    private readonly opts: RegistryClientOptions = {},
  ) {
    this.baseUrl = registryBaseUrl(host);
    if (opts.auth && 'bearerToken' in opts.auth) this.mode = 'bearer';
  }

  /** The config file to name in hints: the one we were told to read, else the default (reported as written by the user). */
  private configFile(): { configFile?: string } {
    return this.opts.dockerConfig ? { configFile: this.opts.dockerConfig } : {};
  }

  private creds(): Promise<{ username: string; password: string } | null> {
    if (!this.credentials) {
      const a = this.opts.auth;
      this.credentials = a && 'username' in a ? Promise.resolve(a) : credentialsFromDockerConfig(this.host, this.opts.dockerConfig);
    }
    return this.credentials;
  }

  private async authorization(scopes: string[]): Promise<string | undefined> {
    const a = this.opts.auth;
    if (a && 'bearerToken' in a) return `Bearer ${a.bearerToken}`;
    if (this.mode === 'basic') {
      const c = await this.creds();
      return c ? basicHeader(c) : undefined;
    }
    if (this.mode === 'bearer' && this.bearerChallenge) {
      const key = scopes.join(' ');
      // Preemptively fetching a token for a new scope saves the 401 round trip on every repository.
      let token = this.tokens.get(key);
      if (!token) {
        token = await this.fetchToken(this.bearerChallenge, scopes);
        this.tokens.set(key, token);
      }
      return `Bearer ${token}`;
    }
    return undefined;
  }

  /** Bearer flow: GET realm?service=..&scope=.. (with Basic credentials if we have any) → {token | access_token}. */
  private async fetchToken(ch: Challenge, scopes: string[]): Promise<string> {
    const realm = ch.params.realm;
    if (!realm) throw new ImageError(`registry ${this.host} sent a Bearer challenge without a realm`, 'check the registry auth configuration', { code: 'UNAUTHORIZED', category: 'cluster' });
    const url = new URL(realm);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    const all = new Set(scopes);
    if (ch.params.scope) for (const s of ch.params.scope.split(' ')) all.add(s);
    for (const s of all) url.searchParams.append('scope', s);
    const c = await this.creds();
    let res: Response;
    try {
      res = await fetch(url, { headers: c ? { authorization: basicHeader(c) } : {}, signal: this.signal() });
    } catch (err) {
      throw transportError(url.host, 'token request', err, this.opts.signal);
    }
    this.requestCount++;
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw unauthorized(this.host, c !== null, { status: res.status, ...this.configFile() });
    }
    if (!res.ok) throw await httpError(url.host, 'issue a token', res);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new ImageError(`token service ${url.host} answered without a token`, 'check the registry auth configuration', { code: 'UNAUTHORIZED', category: 'cluster' });
    return token;
  }

  private signal(): AbortSignal {
    const timeout = AbortSignal.timeout(this.opts.requestTimeoutMs ?? 300_000);
    return this.opts.signal ? AbortSignal.any([this.opts.signal, timeout]) : timeout;
  }

  /** Sends one request, answering at most one auth challenge; transport failures become ImageErrors. */
  async request(op: string, method: string, url: string | URL, init: RequestInit2): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...(init.headers ?? {}) };
      const authz = await this.authorization(init.scopes);
      if (authz) headers.authorization = authz;
      let res: Response;
      try {
        res = await this.send(url, method, headers, init.body);
      } catch (err) {
        throw transportError(this.host, op, err, this.opts.signal);
      }
      this.requestCount++;
      if (res.status !== 401) return res;

      await res.body?.cancel();
      const creds = await this.creds();
      const explicitToken = this.opts.auth !== undefined && 'bearerToken' in this.opts.auth;
      if (attempt > 0 || explicitToken) throw unauthorized(this.host, creds !== null || explicitToken, this.configFile());
      const ch = parseChallenge(res.headers.get('www-authenticate'));
      if (ch?.scheme === 'bearer') {
        this.mode = 'bearer';
        this.bearerChallenge = ch;
        this.tokens.delete(init.scopes.join(' '));
      } else if (ch?.scheme === 'basic' || !ch) {
        if (!creds) throw unauthorized(this.host, false, { helper: await credentialHelperFor(this.host, this.opts.dockerConfig), ...this.configFile() });
        // Only this request's own Basic header proves a refusal: concurrent first requests all see 401s.
        if (authz?.startsWith('Basic ')) throw unauthorized(this.host, true, this.configFile());
        this.mode = 'basic';
      } else {
        throw new ImageError(`registry ${this.host} asks for unsupported auth scheme '${ch.scheme}'`, 'use a registry with Basic or Bearer token auth', {
          code: 'UNSUPPORTED', category: 'cluster',
        });
      }
    }
  }

  /**
   * One fetch. A GET/HEAD that fails with a reset is sent once more: a keep-alive connection the registry
   * closed while idle fails that way, and reading is safe to repeat. Uploads are never repeated blindly.
   */
  private async send(url: string | URL, method: string, headers: Record<string, string>, body: Buffer | undefined): Promise<Response> {
    const once = () => fetch(url, { method, headers, body: body as Uint8Array<ArrayBuffer> | undefined, redirect: 'follow', signal: this.signal() });
    try {
      return await once();
    } catch (err) {
      const idempotent = method === 'GET' || method === 'HEAD';
      if (!idempotent || this.opts.signal?.aborted || !['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'].includes(errorCode(err))) throw err;
      return once();
    }
  }

  private url(repo: string, suffix: string): string {
    return `${this.baseUrl}/v2/${repo}/${suffix}`;
  }

  /** True if the repository already holds the blob (so it needs no upload). */
  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const res = await this.request(`check blob ${short(digest)} in ${repo}`, 'HEAD', this.url(repo, `blobs/${digest}`), { scopes: [pullPush(repo)] });
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await httpError(this.host, `check blob ${short(digest)} in ${repo}`, res);
  }

  async getBlob(repo: string, digest: string): Promise<Buffer> {
    const op = `download blob ${short(digest)} from ${repo}`;
    const res = await this.request(op, 'GET', this.url(repo, `blobs/${digest}`), { scopes: [pull(repo)] });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new ImageError(`blob ${digest} not found in ${this.host}/${repo}`, 'push the image again', { code: 'NOT_FOUND', category: 'cluster' });
    }
    if (!res.ok) throw await httpError(this.host, op, res);
    const buf = Buffer.from(await res.arrayBuffer());
    const actual = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
    if (actual !== digest) {
      throw new ImageError(`blob ${short(digest)} from ${this.host}/${repo} has digest ${short(actual)}`, "the registry's storage is corrupt; delete and re-push the image", {
        code: 'REGISTRY_ERROR', category: 'cluster',
      });
    }
    return buf;
  }

  /**
   * Makes a blob exist in repo: a cross-repo mount when mountFrom names a repo on this registry that has it,
   * otherwise a monolithic upload (POST for a session, PUT ?digest= with the bytes). `blob` is fetched lazily
   * so a successful mount never reads it.
   */
  async putBlob(repo: string, digest: string, blob: () => Promise<Buffer>, mountFrom?: string): Promise<UploadOutcome> {
    const op = `upload blob ${short(digest)} to ${repo}`;
    const start = new URL(this.url(repo, 'blobs/uploads/'));
    const scopes = [pullPush(repo)];
    if (mountFrom) {
      start.searchParams.set('mount', digest);
      start.searchParams.set('from', mountFrom);
      scopes.push(pull(mountFrom));
    }
    const res = await this.request(op, 'POST', start, { scopes, headers: { 'content-length': '0' } });
    if (res.status === 201 && mountFrom) {
      await res.body?.cancel();
      return 'mounted';
    }
    if (res.status !== 202) throw await httpError(this.host, op, res);
    await res.body?.cancel();
    const location = this.location(res, start, op);

    const bytes = await blob();
    location.searchParams.set('digest', digest);
    const put = await this.request(op, 'PUT', location, {
      scopes: [pullPush(repo)],
      body: bytes,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    });
    if (put.status !== 201 && put.status !== 204) {
      const err = await httpError(this.host, op, put);
      throw new ImageError(err.message, err.hint, { code: put.status === 400 ? 'BLOB_REJECTED' : err.code, category: err.category });
    }
    await put.body?.cancel();
    return 'uploaded';
  }

  /** Location may be absolute or relative to the request URL (the spec allows both). */
  private location(res: Response, requestUrl: URL, op: string): URL {
    const loc = res.headers.get('location');
    if (!loc) throw new ImageError(`registry ${this.host} gave no upload location for ${op}`, 'the registry is not Distribution v2 compatible; use another registry', { code: 'REGISTRY_ERROR', category: 'cluster' });
    return new URL(loc, requestUrl);
  }

  /** Fetches a manifest or index by tag or digest; null when the registry says it does not exist. */
  async getManifest(repo: string, reference: string): Promise<FetchedManifest | null> {
    const op = `read manifest ${repo}:${reference}`;
    const res = await this.request(op, 'GET', this.url(repo, `manifests/${reference}`), { scopes: [pull(repo)], headers: { accept: MANIFEST_ACCEPT } });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) throw await httpError(this.host, op, res);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new ImageError(`manifest ${repo}@${short(reference)} from ${this.host} has digest ${short(digest)}`, "the registry's storage is corrupt; re-push the image", {
        code: 'REGISTRY_ERROR', category: 'cluster',
      });
    }
    let json: any;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new ImageError(`manifest ${repo}:${reference} from ${this.host} is not JSON`, 'check the reference names an image', { code: 'UNSUPPORTED', category: 'cluster' });
    }
    const mediaType = json.mediaType ?? res.headers.get('content-type')?.split(';')[0] ?? '';
    return { digest, mediaType, bytes, json };
  }

  /** Returns the digest a tag currently points at, or null. */
  async headManifest(repo: string, reference: string): Promise<string | null> {
    const op = `check manifest ${repo}:${reference}`;
    const res = await this.request(op, 'HEAD', this.url(repo, `manifests/${reference}`), { scopes: [pull(repo)], headers: { accept: MANIFEST_ACCEPT } });
    if (res.status === 404) return null;
    if (!res.ok) throw await httpError(this.host, op, res);
    return res.headers.get('docker-content-digest');
  }

  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string, displayName: string): Promise<void> {
    const op = `store manifest for ${displayName}`;
    const res = await this.request(op, 'PUT', this.url(repo, `manifests/${reference}`), {
      scopes: [pullPush(repo)],
      body: bytes,
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
    });
    if (res.status === 201 || res.status === 200 || res.status === 202) {
      await res.body?.cancel();
      return;
    }
    if (res.status === 400) {
      const text = (await registryErrorText(res)) || 'no detail';
      throw new ImageError(`registry rejected manifest for ${displayName} (400 ${text})`, 'check the registry accepts OCI image manifests; this may be a bug in tel-image', {
        code: 'MANIFEST_REJECTED', category: 'cluster',
      });
    }
    throw await httpError(this.host, op, res);
  }
}

export function pull(repo: string): string {
  return `repository:${repo}:pull`;
}
export function pullPush(repo: string): string {
  return `repository:${repo}:pull,push`;
}
export function short(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
