// The lint rules fail what they are meant to fail: each fixture in tools/lint-fixtures is linted
// with the repository's eslint.config.mjs as if it stood at the path its first line names.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { workspaceRoot } from '@tel/genversion';

const root = workspaceRoot(__dirname);
const fixtures = join(root, 'tools/lint-fixtures');
const eslint = new ESLint({ cwd: root });

async function lintAs(code: string, filePath: string) {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return result!.messages.map((m) => ({ rule: m.ruleId, message: m.message }));
}

describe('lint fixtures', () => {
  for (const name of readdirSync(fixtures).filter((f) => f.endsWith('.ts'))) {
    const code = readFileSync(join(fixtures, name), 'utf8');
    const header = /^\/\/ lint-as: (\S+) expect: (\S+)/.exec(code);
    it(`${name} fails ${header?.[2]}`, async () => {
      expect(header, `${name} must start with '// lint-as: <path> expect: <rule>'`).not.toBeNull();
      const messages = await lintAs(code, header![1]!);
      expect(messages.map((m) => m.rule), JSON.stringify(messages)).toContain(header![2]);
    });
  }

  it('a file over 400 lines fails max-lines; the real file at that path passes', async () => {
    const path = 'libs/errors/src/index.ts';
    const long = Array.from({ length: 401 }, (_, i) => `export const x${i} = ${i};`).join('\n');
    expect((await lintAs(long, path)).map((m) => m.rule)).toContain('max-lines');
    expect(await lintAs(readFileSync(join(root, path), 'utf8'), path)).toEqual([]);
  });

  it('the same import is fine in a test file of an app', async () => {
    const code = "import { workspaceRoot } from '@tel/genversion';\nexport const root = workspaceRoot;\n";
    expect(await lintAs(code, 'apps/root-daemon/src/main.spec.ts')).toEqual([]);
  });
});
