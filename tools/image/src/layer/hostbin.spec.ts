import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { hostBinaryEntries, parseLdd } from './hostbin.js';

describe('parseLdd', () => {
  it('keeps resolved libraries and the loader, skips the vdso and unresolved names', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007ffd)',
      '\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f)',
      '\tlibmissing.so => not found',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f)',
    ].join('\n');
    expect(parseLdd(out)).toEqual(['/lib/x86_64-linux-gnu/libdl.so.2', '/lib64/ld-linux-x86-64.so.2']);
  });
});

describe('hostBinaryEntries on this host', () => {
  it('includes node, its libraries at real paths and the symlinks leading to them', () => {
    const entries = hostBinaryEntries(['/usr/bin/node']);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get('/usr/bin/node')?.sourcePath).toBe('/usr/bin/node');
    // every ldd path must be reachable in the image: each is either an entry or reached through a symlink entry
    for (const lib of parseLdd(execFileSync('ldd', ['/usr/bin/node'], { encoding: 'utf8' }))) {
      const direct = byPath.has(lib);
      const viaLink = entries.some((e) => e.type === 'symlink' && lib.startsWith(`${e.path}/`));
      expect(direct || viaLink, lib).toBe(true);
    }
    expect(entries.some((e) => /ld-linux/.test(e.path))).toBe(true);
    expect(entries.map((e) => e.path)).toEqual([...entries.map((e) => e.path)].sort());
  });
});
