// ARCHITECTURE.md links only files that exist: the real document against this checkout, and the
// checker's rules on small documents (so a broken link is known to fail it).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { existsIn, expandBraces, missingPaths } from './doc-paths.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('ARCHITECTURE.md', () => {
  it('names only files and folders that exist', () => {
    expect(missingPaths(readFileSync(join(repo, 'ARCHITECTURE.md'), 'utf8'), existsIn(repo))).toEqual([]);
  });
});

describe('missingPaths', () => {
  const tree = new Set(['apps', 'apps/cli', 'apps/cli/src', 'apps/cli/src/kube', 'apps/cli/src/kube/extension.ts', 'apps/cli/src/sys', 'apps/cli/src/sys/libc.ts', 'libs', 'libs/dns-wire', 'libs/dns-wire/src', 'libs/dns-wire/src/tcp-framing.ts', 'nx.json']);
  const exists = (p: string) => tree.has(p);
  it.each<[string, string, { line: number; path: string }[]]>([
    ['an existing file and folder', '| x | `apps/cli/src/kube/extension.ts`, `libs/dns-wire/` |', []],
    ['a deleted file', '| x | `apps/cli/src/kube/cidr.ts` |', [{ line: 1, path: 'apps/cli/src/kube/cidr.ts' }]],
    ['a bare name beside its folder', '| x | `apps/cli/src/kube/` (`extension.ts`) |', []],
    ['a bare name missing from its folder', '| x | `apps/cli/src/kube/` (`extension.ts`, `cidr.ts`) |', [{ line: 1, path: 'cidr.ts' }]],
    ['a bare name in the src/ of a lib', '| x | `libs/dns-wire/` (`tcp-framing.ts`) |', []],
    ['a bare name in a folder above', 'see `apps/cli/src/kube/extension.ts` and `sys/libc.ts`', []],
    ['a bare name with no folder on its line', 'only `server.ts` here', [{ line: 1, path: 'server.ts' }]],
    ['braces expand', '`apps/cli/src/{kube,sys}/`', []],
    ['one missing alternative fails', '`apps/cli/src/{kube,gone}/`', [{ line: 1, path: 'apps/cli/src/{kube,gone}/' }]],
    ['commands, flags, identifiers and examples are not paths', '`telepresence helm` `--output json` `POST /dns` `EXIT_CODES` `foo.spec.ts` `*.e2e.spec.ts` `genversion:genversion` `dist/version/version.json`', []],
    ['root files', '`nx.json`\n`package.json`', [{ line: 2, path: 'package.json' }]],
  ])('%s', (_name, doc, want) => expect(missingPaths(doc, exists)).toEqual(want));

  it('expands braces', () => {
    expect(expandBraces('tools/build/src/{bundle,image}.ts')).toEqual(['tools/build/src/bundle.ts', 'tools/build/src/image.ts']);
  });

  it('matches a <placeholder> segment against any entry of a real checkout', () => {
    const exists = existsIn(repo);
    expect(exists('apps/cli/src/cli/commands/<name>.ts')).toBe(true);
    expect(exists('bench/<name>/bench.ts')).toBe(true);
    expect(exists('bench/<name>/no-such-file.ts')).toBe(false);
  });
});
