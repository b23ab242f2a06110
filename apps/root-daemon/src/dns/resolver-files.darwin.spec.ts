// The macOS /etc/resolver writer against a temp directory standing in for /etc/resolver.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MARKER, SEARCH_FILE, removeResolverFiles, syncResolverFiles } from './resolver-files.darwin.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tel-resolver-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const plan = (domains: string[]) => ({ server: { ip: '127.0.0.1', port: 53530 }, domains, search: ['default'] });

describe('resolver files', () => {
  it('writes one file per domain plus the search file', async () => {
    const r = await syncResolverFiles(plan(['cluster.local', 'default', 'kube-system', 'corp.example']), dir);
    expect(r.skipped).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['cluster.local', 'corp.example', 'default', 'kube-system', SEARCH_FILE]);
    expect(readFileSync(join(dir, 'default'), 'utf8')).toBe(`${MARKER}\nnameserver 127.0.0.1\nport 53530\n`);
    expect(readFileSync(join(dir, SEARCH_FILE), 'utf8')).toBe(`${MARKER}\nnameserver 127.0.0.1\nport 53530\nsearch default\nsearch_order 1\n`);
  });

  it('follows namespace changes and never touches foreign files', async () => {
    writeFileSync(join(dir, 'corp.example'), 'nameserver 10.0.0.1\n');
    writeFileSync(join(dir, 'unrelated'), 'nameserver 10.0.0.2\n');
    await syncResolverFiles(plan(['cluster.local', 'default', 'old-ns']), dir);
    const r = await syncResolverFiles(plan(['cluster.local', 'default', 'new-ns', 'corp.example']), dir);
    expect(r.skipped).toEqual(['corp.example']);
    expect(readdirSync(dir).sort()).toEqual(['cluster.local', 'corp.example', 'default', 'new-ns', SEARCH_FILE, 'unrelated']);
    expect(readFileSync(join(dir, 'corp.example'), 'utf8')).toBe('nameserver 10.0.0.1\n');
    expect((await removeResolverFiles(dir)).sort()).toEqual(['cluster.local', 'default', 'new-ns', SEARCH_FILE]);
    expect(readdirSync(dir).sort()).toEqual(['corp.example', 'unrelated']);
  });
});
