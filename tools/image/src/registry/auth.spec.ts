import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentialsFromDockerConfig, parseChallenge } from './auth.js';
import { isInsecureRegistry, registryBaseUrl } from './client.js';

describe('WWW-Authenticate parsing', () => {
  it.each([
    ['Basic realm="basic-realm"', { scheme: 'basic', params: { realm: 'basic-realm' } }],
    [
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
    ],
    ['Bearer realm=http://x/t, service=s', { scheme: 'bearer', params: { realm: 'http://x/t', service: 's' } }],
  ])('%s', (header, want) => {
    expect(parseChallenge(header)).toEqual(want);
  });
  it('no header', () => expect(parseChallenge(null)).toBeNull());
});

describe('Docker config credentials', () => {
  it('matches bare, scheme-prefixed and /v1/ keys', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tel-image-auth-'));
    try {
      const file = path.join(dir, 'config.json');
      const enc = (s: string) => Buffer.from(s).toString('base64');
      await fs.writeFile(
        file,
        JSON.stringify({
          auths: {
            '127.0.0.1:5000': { auth: enc('u1:p:with:colons') },
            'http://127.0.0.1:5001/v1/': { auth: enc('u2:p2') },
            'https://index.docker.io/v1/': { auth: enc('hub:pw') },
          },
        }),
      );
      expect(await credentialsFromDockerConfig('127.0.0.1:5000', file)).toEqual({ username: 'u1', password: 'p:with:colons' });
      expect(await credentialsFromDockerConfig('127.0.0.1:5001', file)).toEqual({ username: 'u2', password: 'p2' });
      expect(await credentialsFromDockerConfig('docker.io', file)).toEqual({ username: 'hub', password: 'pw' });
      expect(await credentialsFromDockerConfig('127.0.0.1:5002', file)).toBeNull();
      expect(await credentialsFromDockerConfig('x', path.join(dir, 'missing.json'))).toBeNull();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('scheme selection', () => {
  it.each([
    ['127.0.0.1:5000', undefined, 'http://127.0.0.1:5000'],
    ['127.1.2.3', undefined, 'http://127.1.2.3'],
    ['localhost:5000', undefined, 'http://localhost:5000'],
    ['[::1]:5000', undefined, 'http://[::1]:5000'],
    ['registry.example:5000', undefined, 'https://registry.example:5000'],
    ['registry.example:5000', 'other:1, registry.example:5000', 'http://registry.example:5000'],
    ['reg.lan', 'reg.lan', 'http://reg.lan'],
    ['docker.io', undefined, 'https://registry-1.docker.io'],
  ])('%s (insecure list %s) → %s', (host, env, want) => {
    const old = process.env.TELEPRESENCE_REGISTRY_INSECURE;
    if (env === undefined) delete process.env.TELEPRESENCE_REGISTRY_INSECURE;
    else process.env.TELEPRESENCE_REGISTRY_INSECURE = env;
    try {
      expect(registryBaseUrl(host)).toBe(want);
      expect(isInsecureRegistry(host)).toBe(want.startsWith('http:'));
    } finally {
      if (old === undefined) delete process.env.TELEPRESENCE_REGISTRY_INSECURE;
      else process.env.TELEPRESENCE_REGISTRY_INSECURE = old;
    }
  });
});
