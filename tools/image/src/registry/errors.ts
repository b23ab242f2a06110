// Maps transport failures and registry error responses to one-line ImageErrors with a fix.
import { ImageError } from '../errors.js';

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'EADDRNOTAVAIL',
]);
const TLS_CODES = /^(ERR_SSL_|EPROTO|ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT|UNABLE_TO_VERIFY|CERT_)/;

/** fetch() wraps the socket error in TypeError('fetch failed').cause; dig out the first errno-ish code. */
export function errorCode(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
    e = (e as { cause?: unknown }).cause;
  }
  const msg = err instanceof Error ? `${err.message} ${(err.cause as Error | undefined)?.message ?? ''}` : String(err);
  if (/other side closed|socket hang up/i.test(msg)) return 'ECONNRESET';
  return 'network error';
}

export function transportError(host: string, op: string, err: unknown, signal?: AbortSignal): ImageError {
  if (signal?.aborted || (err as Error)?.name === 'AbortError') {
    return new ImageError(`${op} on registry ${host} was cancelled`, 'run the command again when ready', { code: 'ABORTED', cause: err });
  }
  if ((err as Error)?.name === 'TimeoutError') {
    return new ImageError(`registry ${host} did not answer in time during ${op}`, 'check the registry is healthy and retry', { code: 'UNREACHABLE', category: 'cluster', cause: err });
  }
  const code = errorCode(err);
  if (/bad port/.test(String((err as Error)?.cause ?? ''))) {
    return new ImageError(`cannot reach registry ${host} (port blocked by fetch as unsafe)`, 'run the registry on another port, e.g. 5000', {
      code: 'UNREACHABLE', category: 'config', cause: err,
    });
  }
  if (UNREACHABLE_CODES.has(code)) {
    return new ImageError(`cannot reach registry ${host} (${code})`, 'start it or set TELEPRESENCE_REGISTRY to a reachable registry', {
      code: 'UNREACHABLE', category: 'config', cause: err,
    });
  }
  if (TLS_CODES.test(code)) {
    return new ImageError(`TLS handshake with registry ${host} failed (${code})`, `if it serves plain HTTP, add it to TELEPRESENCE_REGISTRY_INSECURE=${host}`, {
      code: 'UNREACHABLE', category: 'config', cause: err,
    });
  }
  return new ImageError(`connection to registry ${host} dropped during ${op} (${code})`, "retry; if it keeps failing check the registry's log and any proxy in between", {
    code: 'CONNECTION_DROPPED', category: 'cluster', cause: err,
  });
}

/** Reads a Distribution error body ({"errors":[{code,message,detail}]}) into "CODE: message". */
export async function registryErrorText(res: Response): Promise<string> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    return '';
  }
  try {
    const body = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string; detail?: unknown }> };
    const first = body.errors?.[0];
    if (first) {
      const detail = first.detail === undefined || first.detail === null ? '' : ` ${typeof first.detail === 'string' ? first.detail : JSON.stringify(first.detail)}`;
      return `${first.code ?? 'ERROR'}: ${first.message ?? ''}${detail}`.trim();
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.trim().slice(0, 200);
}

export async function httpError(host: string, op: string, res: Response): Promise<ImageError> {
  const text = await registryErrorText(res);
  const status = `${res.status}${text ? ` ${text}` : ''}`;
  if (res.status === 403) {
    return new ImageError(`registry ${host} denied ${op} (${status})`, `check that the account in ~/.docker/config.json may push to it, or run 'docker login ${host}'`, {
      code: 'DENIED', category: 'config',
    });
  }
  if (res.status === 429) {
    return new ImageError(`registry ${host} rate-limited ${op} (${status})`, 'wait a minute and retry', { code: 'REGISTRY_ERROR', category: 'cluster' });
  }
  return new ImageError(`registry ${host} failed to ${op} (${status})`, "retry; if it keeps failing check the registry's log and free disk space", {
    code: 'REGISTRY_ERROR', category: 'cluster',
  });
}

export function unauthorized(host: string, hadCredentials: boolean, opts: { status?: number; helper?: string | null; configFile?: string } = {}): ImageError {
  const status = opts.status ?? 401;
  const helper = opts.helper;
  const configFile = opts.configFile ?? (process.env.DOCKER_CONFIG ? `${process.env.DOCKER_CONFIG}/config.json` : '~/.docker/config.json');
  const hint =
    !hadCredentials && helper
      ? `credential helper '${helper}' is not supported; add auths["${host}"].auth (base64 user:password) to ${configFile}`
      : `run 'docker login ${host}' or fix ${configFile}`;
  return new ImageError(
    hadCredentials ? `registry ${host} refused credentials (${status})` : `registry ${host} requires credentials (${status})`,
    hint,
    { code: 'UNAUTHORIZED', category: 'config' },
  );
}
