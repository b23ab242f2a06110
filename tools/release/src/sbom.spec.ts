// The SBOM's pure parts: which package an input path belongs to, purls, licenses, stable output.
import { describe, expect, it } from 'vitest';
import { cycloneDx, npmPurl, packageDirOf, type Component } from './sbom.js';

describe('packageDirOf', () => {
  it.each([
    ['node_modules/yaml/dist/index.js', 'node_modules/yaml'],
    ['node_modules/@kubernetes/client-node/dist/api.js', 'node_modules/@kubernetes/client-node'],
    ['node_modules/a/node_modules/b/lib/x.js', 'node_modules/a/node_modules/b'],
    ['libs/ipc/src/index.ts', undefined],
  ])('%s → %s', (input, dir) => expect(packageDirOf(input)).toBe(dir));
});

describe('cycloneDx', () => {
  const app: Component = { type: 'application', name: 'telepresence', version: 'v1.0.0', purl: 'pkg:generic/telepresence@v1.0.0' };
  const lib = (name: string, license?: string): Component => ({ type: 'library', name, version: '1.0.0', purl: npmPurl(name, '1.0.0'), ...(license ? { license } : {}) });

  it('encodes scopes in purls, maps licenses to id / expression / name, dedupes and sorts', () => {
    const doc = JSON.parse(cycloneDx(app, [lib('z', 'MIT'), lib('@s/a', '(MIT OR Apache-2.0)'), lib('z', 'MIT'), lib('m', 'SEE LICENSE IN LICENSE.md')]));
    expect(doc).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1 });
    expect(doc.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(doc.components.map((c: { purl: string }) => c.purl)).toEqual(['pkg:npm/%40s/a@1.0.0', 'pkg:npm/m@1.0.0', 'pkg:npm/z@1.0.0']);
    expect(doc.components.map((c: { licenses: unknown }) => c.licenses)).toEqual([
      [{ expression: 'MIT OR Apache-2.0' }],
      [{ license: { name: 'SEE LICENSE IN LICENSE.md' } }],
      [{ license: { id: 'MIT' } }],
    ]);
    expect(doc.dependencies).toEqual([{ ref: app.purl, dependsOn: doc.components.map((c: { purl: string }) => c.purl) }]);
    expect(doc.metadata.timestamp).toBeUndefined();
  });

  it('gives the same bytes for the same components in any order, another serial for others', () => {
    const a = cycloneDx(app, [lib('x'), lib('y')]);
    expect(cycloneDx(app, [lib('y'), lib('x')])).toBe(a);
    expect(JSON.parse(cycloneDx(app, [lib('x')])).serialNumber).not.toBe(JSON.parse(a).serialNumber);
  });
});
