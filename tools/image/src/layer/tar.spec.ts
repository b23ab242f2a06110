import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../errors.js';
import { listLayer } from '../testing/tar.js';
import { LayerCache } from './cache.js';
import { buildLayer, GZIP_MEMBER_BYTES, gzipDeterministic, sha256 } from './tar.js';
import type { LayerEntry } from './entries.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tel-image-tar-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const entries: LayerEntry[] = [
  { path: '/usr/local/bin/tool', content: 'bin', mode: 0o755 },
  { path: 'app/z.js', content: Buffer.from('z') },
  { path: '/app/a.js', content: 'a' },
  { path: '/app/link', linkTarget: 'a.js' },
  { path: '/var/empty', type: 'dir', mode: 0o700 },
  { path: `/deep/${'n'.repeat(120)}/${'m'.repeat(120)}.txt`, content: 'long name' },
];

describe('deterministic layers', () => {
  it('same entries in any order give the same bytes and digests', async () => {
    const a = await buildLayer(entries, { cache: null });
    const b = await buildLayer([...entries].reverse(), { cache: null });
    expect(b.digest).toBe(a.digest);
    expect(b.diffId).toBe(a.diffId);
    expect(Buffer.compare(a.blob, b.blob)).toBe(0);
    expect(a.diffId).toBe(sha256(gunzipSync(a.blob)));
  });

  it('sorts entries, adds parent dirs and pins owner, names and mtime', async () => {
    const layer = await buildLayer(entries, { cache: null });
    const listed = await listLayer(layer.blob);
    expect(listed.map((e) => e.name)).toEqual([
      'app/', 'app/a.js', 'app/link', 'app/z.js',
      'deep/', `deep/${'n'.repeat(120)}/`, `deep/${'n'.repeat(120)}/${'m'.repeat(120)}.txt`,
      'usr/', 'usr/local/', 'usr/local/bin/', 'usr/local/bin/tool',
      'var/', 'var/empty/',
    ]);
    for (const e of listed) {
      expect([e.uid, e.gid, e.uname, e.gname, e.mtime]).toEqual([0, 0, '', '', 0]);
    }
    const modes = Object.fromEntries(listed.map((e) => [e.name, e.mode.toString(8)]));
    expect(modes).toMatchObject({ 'app/': '755', 'app/a.js': '644', 'app/link': '777', 'usr/local/bin/tool': '755', 'var/empty/': '700' });
  });

  it('gzip header has mtime 0, no name and OS=Unix', async () => {
    const gz = await gzipDeterministic(Buffer.from('hello'));
    expect([...gz.subarray(0, 4)]).toEqual([0x1f, 0x8b, 8, 0]); // magic, deflate, no FNAME/FEXTRA
    expect(gz.readUInt32LE(4)).toBe(0);
    expect(gz[9]).toBe(3);
  });

  it('big blobs gzip as fixed-size members that gunzip (Node and GNU gzip) back to the whole input', async () => {
    const big = Buffer.alloc(GZIP_MEMBER_BYTES * 2 + 12345);
    for (let i = 0; i + 4 <= big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const a = await gzipDeterministic(big);
    const b = await gzipDeterministic(big);
    expect(Buffer.compare(a, b)).toBe(0);
    expect(Buffer.compare(gunzipSync(a), big)).toBe(0);
    const file = path.join(tmp, 'multi.gz');
    await fs.writeFile(file, a);
    const out = execFileSync('gzip', ['-dc', file], { maxBuffer: big.length * 2 });
    expect(Buffer.compare(out, big)).toBe(0);
  });

  it('later entries for one path win; a file under a symlink is refused', async () => {
    const layer = await buildLayer([{ path: '/a', content: '1' }, { path: '/a', content: '2' }], { cache: null });
    const listed = await listLayer(layer.blob, true);
    expect(listed.map((e) => e.content?.toString())).toEqual(['2']);
    await expect(buildLayer([{ path: '/lib', linkTarget: 'usr/lib' }, { path: '/lib/x.so', content: '' }], { cache: null })).rejects.toThrow(
      /layer entry \/lib\/x.so lies under \/lib, which the same layer makes a symlink/,
    );
    await expect(buildLayer([{ path: '/app/../../etc/passwd', content: '' }], { cache: null })).rejects.toBeInstanceOf(ImageError);
  });

  it('copies a host directory recursively with host modes', async () => {
    const src = path.join(tmp, 'src');
    await fs.mkdir(path.join(src, 'sub'), { recursive: true });
    await fs.writeFile(path.join(src, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await fs.writeFile(path.join(src, 'sub', 'data.txt'), 'd');
    await fs.symlink('run.sh', path.join(src, 'start'));
    await fs.chmod(src, 0o755);
    await fs.chmod(path.join(src, 'sub'), 0o755);
    const layer = await buildLayer([{ path: '/opt/app', sourcePath: src }], { cache: null });
    const listed = await listLayer(layer.blob);
    expect(listed.map((e) => `${e.name} ${e.type} ${e.mode.toString(8)}`)).toEqual([
      'opt/ directory 755',
      'opt/app/ directory 755',
      'opt/app/run.sh file 755',
      'opt/app/start symlink 777',
      'opt/app/sub/ directory 755',
      'opt/app/sub/data.txt file 644',
    ]);
    await expect(buildLayer([{ path: '/x', sourcePath: path.join(tmp, 'missing') }], { cache: null })).rejects.toThrow(/cannot read layer source .*missing \(ENOENT\)/);
  });

  it('caches the gzip of big layers by diffId and reuses it', async () => {
    const cache = new LayerCache(path.join(tmp, 'cache'));
    const big = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    const first = await buildLayer([{ path: '/big', content: big }], { cache });
    const second = await buildLayer([{ path: '/big', content: big }], { cache });
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(second.digest).toBe(first.digest);
    // A corrupt cache entry is a miss, not a wrong layer.
    const file = path.join(cache.dir, 'gzip', `${first.diffId.replace(':', '-')}.tar.gz`);
    await fs.writeFile(file, 'garbage');
    const third = await buildLayer([{ path: '/big', content: big }], { cache });
    expect(third.cached).toBe(false);
    expect(third.digest).toBe(first.digest);
  });
});
