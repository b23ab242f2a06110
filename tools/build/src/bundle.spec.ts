// The CLI's real bundle, inspected through esbuild's metafile: the user daemon carries
// @kubernetes/client-node's KubeConfig and the thin client, never the generated API and model
// classes (all of them load with any one: ~17 MiB of the daemon's memory).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workspaceRoot } from '@tel/genversion';
import { APPS, bundleApp } from './bundle.js';

const CONNECTOR = 'apps/cli/src/userd/connector.ts';
const GENERATED = /node_modules\/@kubernetes\/client-node\/dist\/gen\/(models|apis|types)\//;

let tmp: string;
let meta: Metafile;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tel-bundle-'));
  await bundleApp(workspaceRoot(__dirname), 'cli', { version: 'v0.0.0-bundle', registry: 'localhost:5000' }, tmp, { onMetafile: (entry, m) => entry === APPS.cli && (meta = m) });
}, 120_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The outputs a process loads from `start` on: static imports, and import() too (the daemon's later needs). */
function closure(start: string): string[] {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length) {
    const out = todo.pop()!;
    if (seen.has(out)) continue;
    seen.add(out);
    for (const i of meta.outputs[out]?.imports ?? []) if (!i.external && meta.outputs[i.path]) todo.push(i.path);
  }
  return [...seen];
}

const inputsOf = (outputs: string[]) => outputs.flatMap((o) => Object.keys(meta.outputs[o]!.inputs));

describe('the CLI bundle', () => {
  it('the user daemon loads KubeConfig and the thin client, and none of the generated API or models', () => {
    const connector = Object.keys(meta.outputs).find((o) => meta.outputs[o]!.entryPoint === CONNECTOR);
    expect(connector, 'the user daemon has a chunk of its own').toBeDefined();
    const inputs = inputsOf(closure(connector!));
    // What it must carry, so this looks at the right chunks.
    expect(inputs).toContain('node_modules/@kubernetes/client-node/dist/config.js');
    expect(inputs).toContain('apps/cli/src/kube/api.ts');
    expect(inputs.filter((i) => GENERATED.test(i))).toEqual([]);
    expect(inputs.filter((i) => i.endsWith('client-node/dist/serializer.js') || i.endsWith('client-node/dist/cache.js'))).toEqual([]);
  });

  it('no chunk of the CLI carries them (helm, list-namespaces, gather-logs use the thin client too)', () => {
    const all = inputsOf(Object.keys(meta.outputs));
    expect(all.length).toBeGreaterThan(100);
    expect(all.filter((i) => GENERATED.test(i))).toEqual([]);
  });
});
