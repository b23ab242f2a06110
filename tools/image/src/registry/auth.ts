// Registry credentials: reading the Docker config file and answering WWW-Authenticate challenges (Basic, Bearer token).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Explicit credentials: user/password (Basic, or sent to a Bearer token endpoint) or a ready token. */
export type RegistryAuth = { username: string; password: string } | { bearerToken: string };

export function dockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/** Config keys are written as "host", "https://host", "http://host/v1/"...: compare on the bare host. */
function keyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
}

/** Returns user/password for a registry host from the Docker config's auths[host].auth, or null. */
export async function credentialsFromDockerConfig(host: string, file = dockerConfigPath()): Promise<{ username: string; password: string } | null> {
  let parsed: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch {
    return null;
  }
  const wanted = host.toLowerCase();
  const aliases = wanted === 'docker.io' ? [wanted, 'index.docker.io', 'registry-1.docker.io'] : [wanted];
  for (const [key, entry] of Object.entries(parsed.auths ?? {})) {
    if (!aliases.includes(keyHost(key))) continue;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password };
  }
  return null;
}

/** Names the credential helper the Docker config assigns to host (credHelpers[host] or credsStore), if any. */
export async function credentialHelperFor(host: string, file = dockerConfigPath()): Promise<string | null> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as { credHelpers?: Record<string, string>; credsStore?: string };
    const helper = Object.entries(parsed.credHelpers ?? {}).find(([k]) => keyHost(k) === host.toLowerCase())?.[1];
    return helper ?? parsed.credsStore ?? null;
  } catch {
    return null;
  }
}

export interface Challenge {
  scheme: 'basic' | 'bearer' | string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="https://x/token",service="reg",scope="repository:a:pull"` (first challenge only). */
export function parseChallenge(header: string | null): Challenge | null {
  if (!header) return null;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2] ?? '')) !== null) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

export function basicHeader(c: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
