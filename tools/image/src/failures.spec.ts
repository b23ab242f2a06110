// Failure paths against a real registry (with a fault-injecting proxy where the registry itself would not fail):
// every failure is one actionable line and never leaves the tag written.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndPush, ImageError, inspectImage, RegistryClient, type BuildSpec } from './index.js';
import { freePort, startProxy, startRegistry, type TestRegistry } from './testing/index.js';

let reg: TestRegistry;
let authReg: TestRegistry;
let tmp: string;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tel-image-failures-'));
  cleanups.push(() => fs.rm(tmp, { recursive: true, force: true }));
  reg = await startRegistry();
  cleanups.push(() => reg.stop());
  authReg = await startRegistry({ htpasswd: { username: 'tel', password: 's3cret' } });
  cleanups.push(() => authReg.stop());
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const spec = (text = 'x'): BuildSpec => ({ layers: [[{ path: '/app/x.js', content: text }]], created: '2026-11-20T10:00:00Z' });

async function rejection(p: Promise<unknown>): Promise<ImageError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ImageError);
    const e = err as ImageError;
    expect(e.line).not.toMatch(/\n/);
    return e;
  }
  throw new Error('expected the push to fail');
}

async function tagStatus(host: string, repo: string, tag: string, auth?: string): Promise<number> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json', ...(auth ? { authorization: auth } : {}) },
  });
  await res.arrayBuffer();
  return res.status;
}

async function dockerConfig(name: string, auths: Record<string, { auth: string }>): Promise<string> {
  const file = path.join(tmp, name, 'config.json');
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify({ auths }));
  return file;
}
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('failed pushes leave no tag', () => {
  it('registry answers 500 to the manifest PUT', async () => {
    const proxy = await startProxy(reg.port, {
      fault: (r) => (r.method === 'PUT' && r.path.includes('/manifests/') ? { kind: 'status', status: 500, code: 'UNKNOWN', message: 'disk full' } : { kind: 'pass' }),
    });
    cleanups.push(() => proxy.close());
    const err = await rejection(buildAndPush(spec('500'), `${proxy.host}/fail500:v1`, { cache: null }));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(err.line).toBe(`registry ${proxy.host} failed to store manifest for fail500:v1 (500 UNKNOWN: disk full); retry; if it keeps failing check the registry's log and free disk space`);
    expect(await tagStatus(reg.host, 'fail500', 'v1')).toBe(404);
  });

  it('connection drops during a blob upload', async () => {
    const proxy = await startProxy(reg.port, {
      fault: (r) => (r.method === 'PUT' && r.path.includes('/blobs/uploads/') ? { kind: 'drop' } : { kind: 'pass' }),
    });
    cleanups.push(() => proxy.close());
    const err = await rejection(buildAndPush(spec('drop'), `${proxy.host}/dropped:v1`, { cache: null }));
    expect(err.code).toBe('CONNECTION_DROPPED');
    expect(err.message).toMatch(new RegExp(`^connection to registry ${proxy.host} dropped during upload blob [0-9a-f]{12} to dropped \\(`));
    expect(await tagStatus(reg.host, 'dropped', 'v1')).toBe(404);
    expect(proxy.requests.some((r) => r.method === 'PUT' && r.path.includes('/manifests/'))).toBe(false);
  });

  it('the tag PUT itself fails after the digest PUT: the tag still does not exist', async () => {
    const proxy = await startProxy(reg.port, {
      fault: (r) => (r.method === 'PUT' && r.path.endsWith('/manifests/v1') ? { kind: 'status', status: 503, code: 'UNAVAILABLE', message: 'busy' } : { kind: 'pass' }),
    });
    cleanups.push(() => proxy.close());
    const err = await rejection(buildAndPush(spec('tagfail'), `${proxy.host}/tagfail:v1`, { cache: null }));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(await tagStatus(reg.host, 'tagfail', 'v1')).toBe(404);
  });

  it('the real registry rejects a manifest whose config blob never arrived', async () => {
    // The proxy acknowledges the config upload without forwarding it, so the registry itself answers 400.
    let swallowed = false;
    const proxy = await startProxy(reg.port, {
      fault: (r) => {
        if (r.method === 'PUT' && r.path.includes('/blobs/uploads/') && !swallowed && Number(r.headers['content-length']) < 1000 && r.query.includes('digest=')) {
          swallowed = true;
          return { kind: 'respond', status: 201 };
        }
        return { kind: 'pass' };
      },
    });
    cleanups.push(() => proxy.close());
    const s: BuildSpec = { layers: [[{ path: '/big.bin', content: Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251)) }]] };
    const err = await rejection(buildAndPush(s, `${proxy.host}/rejected:v1`, { cache: null, concurrency: 1 }));
    expect(swallowed).toBe(true);
    expect(err.code).toBe('MANIFEST_REJECTED');
    expect(err.message).toMatch(/^registry rejected manifest for rejected:v1 \(400 MANIFEST_BLOB_UNKNOWN: /);
    expect(await tagStatus(reg.host, 'rejected', 'v1')).toBe(404);
  });
});

describe('actionable errors', () => {
  it('missing base image', async () => {
    const err = await rejection(buildAndPush({ ...spec(), base: `${reg.host}/node-base:20` }, `${reg.host}/nobase:v1`, { cache: null }));
    expect(err.code).toBe('BASE_NOT_FOUND');
    expect(err.line).toBe(`base image ${reg.host}/node-base:20 not found; build it with 'npx tel-image base-node --target ${reg.host}/node-base:20' (or push it there)`);
    expect(await tagStatus(reg.host, 'nobase', 'v1')).toBe(404);
  });

  it('unreachable registry', async () => {
    const port = await freePort();
    const err = await rejection(buildAndPush(spec(), `127.0.0.1:${port}/tel2:v1`, { cache: null }));
    expect(err.code).toBe('UNREACHABLE');
    expect(err.line).toBe(`cannot reach registry 127.0.0.1:${port} (ECONNREFUSED); start it or set TELEPRESENCE_REGISTRY to a reachable registry`);
  });

  it('inspect of a missing image', async () => {
    const err = await rejection(inspectImage(`${reg.host}/nothing:here`));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.line).toBe(`image ${reg.host}/nothing:here not found; check the name and tag, or push it first`);
  });

  it('cancellation via AbortSignal stops the push before the tag', async () => {
    const ac = new AbortController();
    const proxy = await startProxy(reg.port, {
      fault: (r) => {
        if (r.method === 'POST') ac.abort();
        return { kind: 'pass' };
      },
    });
    cleanups.push(() => proxy.close());
    const err = await rejection(buildAndPush(spec('abort'), `${proxy.host}/aborted:v1`, { cache: null, signal: ac.signal }));
    expect(err.code).toBe('ABORTED');
    expect(await tagStatus(reg.host, 'aborted', 'v1')).toBe(404);
  });

  it('a reset on a read is retried once; a reset on an upload is not', async () => {
    let heads = 0;
    const proxy = await startProxy(reg.port, {
      fault: (r) => (r.method === 'HEAD' && r.path.includes('/manifests/') && heads++ === 0 ? { kind: 'drop' } : { kind: 'pass' }),
    });
    cleanups.push(() => proxy.close());
    const res = await buildAndPush(spec('retry'), `${proxy.host}/retried:v1`, { cache: null });
    expect(heads).toBe(2);
    expect(res.uploadedBlobs).toBe(2);
  });

  it('invalid target reference', async () => {
    const err = await rejection(buildAndPush(spec(), `${reg.host}/Tel2:v1`, { cache: null }));
    expect(err.code).toBe('INVALID_REF');
  });
});

describe('registry with htpasswd auth', () => {
  it('refused credentials from the Docker config', async () => {
    const cfg = await dockerConfig('bad', { [authReg.host]: { auth: b64('tel:wrong') } });
    const err = await rejection(buildAndPush(spec(), `${authReg.host}/tel2:v1`, { cache: null, dockerConfig: cfg }));
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toBe(`registry ${authReg.host} refused credentials (401)`);
    expect(err.hint).toMatch(new RegExp(`^run 'docker login ${authReg.host}' or fix `));
    expect(await tagStatus(authReg.host, 'tel2', 'v1', `Basic ${b64('tel:s3cret')}`)).toBe(404);
  });

  it('no credentials at all', async () => {
    const cfg = await dockerConfig('none', {});
    const err = await rejection(buildAndPush(spec(), `${authReg.host}/tel2:v1`, { cache: null, dockerConfig: cfg }));
    expect(err.message).toBe(`registry ${authReg.host} requires credentials (401)`);
    expect(err.hint).toBe(`run 'docker login ${authReg.host}' or fix ${cfg}`);
  });

  it('credentials only in an unsupported credential helper', async () => {
    const file = path.join(tmp, 'helper', 'config.json');
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, JSON.stringify({ credHelpers: { [authReg.host]: 'pass' } }));
    const err = await rejection(buildAndPush(spec(), `${authReg.host}/tel2:v1`, { cache: null, dockerConfig: file }));
    expect(err.hint).toBe(`credential helper 'pass' is not supported; add auths["${authReg.host}"].auth (base64 user:password) to ${file}`);
  });

  it('concurrent first requests all answer the Basic challenge (no false "refused")', async () => {
    const client = new RegistryClient(authReg.host, { auth: { username: 'tel', password: 's3cret' } });
    const digests = Array.from({ length: 6 }, (_, i) => `sha256:${String(i).repeat(64)}`);
    expect(await Promise.all(digests.map((d) => client.hasBlob('tel2', d)))).toEqual(digests.map(() => false));
  });

  it('good credentials from $DOCKER_CONFIG push and read back', async () => {
    const cfg = await dockerConfig('good', { [`http://${authReg.host}`]: { auth: b64('tel:s3cret') } });
    const old = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = path.dirname(cfg);
    try {
      const res = await buildAndPush(spec('auth'), `${authReg.host}/tel2:v1`, { cache: null });
      expect(res.uploadedBlobs).toBe(2);
      expect((await inspectImage(`${authReg.host}/tel2:v1`)).digest).toBe(res.digest);
    } finally {
      if (old === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = old;
    }
  });
});

describe('Bearer token flow', () => {
  it('gets a token from the realm with Basic credentials and pushes with it', async () => {
    const tokenRequests: string[] = [];
    let realm = '';
    const proxy = await startProxy(reg.port, {
      stripAuthorization: true,
      fault: (r) => {
        if (r.path === '/token') {
          tokenRequests.push(r.query);
          const ok = r.headers.authorization === `Basic ${b64('tel:s3cret')}`;
          return ok ? { kind: 'respond', status: 200, body: JSON.stringify({ token: 'tok-123' }) } : { kind: 'status', status: 401, code: 'UNAUTHORIZED' };
        }
        if (r.headers.authorization === 'Bearer tok-123') return { kind: 'pass' };
        return {
          kind: 'respond',
          status: 401,
          headers: { 'www-authenticate': `Bearer realm="${realm}",service="tel-test",scope="repository:bearer:pull,push"` },
          body: JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }),
        };
      },
    });
    cleanups.push(() => proxy.close());
    realm = `http://${proxy.host}/token`;
    const res = await buildAndPush(spec('bearer'), `${proxy.host}/bearer:v1`, { cache: null, auth: { username: 'tel', password: 's3cret' } });
    expect(res.uploadedBlobs).toBe(2);
    expect(tokenRequests.length).toBeGreaterThanOrEqual(1);
    expect(new URLSearchParams(tokenRequests[0]).get('service')).toBe('tel-test');
    expect(new URLSearchParams(tokenRequests[0]).getAll('scope')).toContain('repository:bearer:pull,push');
    expect(await tagStatus(reg.host, 'bearer', 'v1')).toBe(200);

    const err = await rejection(buildAndPush(spec('bearer2'), `${proxy.host}/bearer:v2`, { cache: null, auth: { username: 'tel', password: 'nope' } }));
    expect(err.message).toBe(`registry ${proxy.host} refused credentials (401)`);
    expect(await tagStatus(reg.host, 'bearer', 'v2')).toBe(404);
  });
});
