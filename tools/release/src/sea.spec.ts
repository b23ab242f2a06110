// The single executable's manifest: what the bootstrap unpacks, and where.
import { describe, expect, it } from 'vitest';
import { seaManifest } from './sea.js';

const files = [
  { path: 'cli/main.js', mode: 0o755, content: Buffer.from('cli') },
  { path: 'root-daemon/main.js', mode: 0o755, content: Buffer.from('rootd') },
];

describe('seaManifest', () => {
  it('names the unpack dir after the version and every file: a changed file is another dir', () => {
    const a = seaManifest('v2.1.0', files);
    expect(a.id).toMatch(/^v2\.1\.0-[0-9a-f]{16}$/);
    expect(seaManifest('v2.1.0', files).id).toBe(a.id);
    expect(seaManifest('v2.1.0', [files[0]!, { ...files[1]!, content: Buffer.from('rootd2') }]).id).not.toBe(a.id);
  });
});
