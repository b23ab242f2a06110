// The real CLI parser in-process: help and error text snapshots, and push/inspect against a real registry.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helpText, main } from './cli.js';
import { startRegistry, type TestRegistry } from './testing/index.js';

let reg: TestRegistry;
let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tel-image-cli-'));
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop().catch(() => {});
  await fs.rm(tmp, { recursive: true, force: true });
});

async function cli(argv: string[], tty = false): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s), stderrIsTTY: tty, env: {}, cwd: tmp });
  return { code, out, err };
}

describe('tel-image CLI', () => {
  it('help', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(helpText());
    expect(r.out).toMatchInlineSnapshot(`
      "tel-image: build OCI images without a Docker engine and push them to a registry

      Commands:
        base-node  push a Node runtime base image built from the host's node binary, its libraries and CA certificates
        push       build an image from a JSON build spec and push it (manifest by digest first, tag last)
        inspect    print an image's manifest digest, manifest and config as JSON

      Usage:
        tel-image base-node --target <ref> [--node /usr/bin/node] [--created <RFC 3339>] [--output json]
        tel-image push --spec <spec.json> --target <ref> [--output json]
        tel-image inspect <ref> [--platform linux/amd64]

      Registries on 127.0.0.1/localhost/[::1] and those in TELEPRESENCE_REGISTRY_INSECURE=host:port,... use plain HTTP.
      Credentials come from $DOCKER_CONFIG/config.json or ~/.docker/config.json.
      "
    `);
  });

  it.each([
    [['nope'], 2, "tel-image: unknown command 'nope'; run 'tel-image --help'\n"],
    [['push', '--bogus'], 2, "tel-image: Unknown option '--bogus'; usage: tel-image push --spec <spec.json> --target <ref> [--output json]\n"],
    [['push', '--target', 'x'], 2, 'tel-image: push needs --spec and --target; usage: tel-image push --spec <spec.json> --target <ref> [--output json]\n'],
    [['inspect'], 2, 'tel-image: inspect takes 1 argument(s), got 0; usage: tel-image inspect <ref> [--platform linux/amd64]\n'],
    [['inspect', 'UPPER/x'], 2, "tel-image: invalid image reference 'UPPER/x': repository component 'UPPER' must be lowercase letters, digits and single separators (. _ __ -); use the form 'host[:port]/repository[:tag][@sha256:<digest>]', e.g. '127.0.0.1:5000/tel2:v2.5.4'\n"],
    [['push', '--spec', 'missing.json', '--target', '127.0.0.1:5000/x:y'], 2, 'tel-image: cannot read build spec {tmp}/missing.json (ENOENT); pass a JSON file with {"base"?, "layers": [[{"path", "content" | "sourcePath"}]]}\n'],
  ])('%j → exit %d with one line', async (argv, code, err) => {
    const r = await cli(argv);
    expect(r.err).toBe(err.replace('{tmp}', tmp));
    expect(r.code).toBe(code);
    expect(r.out).toBe('');
  });

  it('push --spec with relative sourcePath, then inspect; progress only on a TTY', async () => {
    await fs.mkdir(path.join(tmp, 'dist'), { recursive: true });
    await fs.writeFile(path.join(tmp, 'dist', 'main.js'), 'console.log(1)\n');
    await fs.writeFile(
      path.join(tmp, 'spec.json'),
      JSON.stringify({ layers: [[{ path: '/app/main.js', sourcePath: 'dist/main.js' }]], cmd: ['/app/main.js'], annotations: { 'org.opencontainers.image.version': '1.2.3' } }),
    );
    const quiet = await cli(['push', '--spec', 'spec.json', '--target', `${reg.host}/cli:v1`, '--output', 'json']);
    expect(quiet.err).toBe('');
    expect(quiet.code).toBe(0);
    const res = JSON.parse(quiet.out);
    expect(res).toMatchObject({ ref: `${reg.host}/cli:v1`, uploadedBlobs: 2 });

    const tty = await cli(['push', '--spec', 'spec.json', '--target', `${reg.host}/cli:v1`], true);
    expect(tty.code).toBe(0);
    expect(tty.err).toContain('tag ');
    expect(tty.out).toMatch(new RegExp(`^pushed ${reg.host}/cli:v1@${res.digest}\\n  0 blobs uploaded \\(0\\.0 MiB\\), 0 mounted, 2 already present, `));

    const insp = await cli(['inspect', `${reg.host}/cli:v1`, '--output', 'json']);
    expect(insp.code).toBe(0);
    const info = JSON.parse(insp.out);
    expect(info.digest).toBe(res.digest);
    expect(info.manifest.annotations).toEqual({ 'org.opencontainers.image.version': '1.2.3' });
    expect(info.config.config.Cmd).toEqual(['/app/main.js']);
  });

  it('a missing image exits with its category code and one line', async () => {
    const missing = await cli(['inspect', `${reg.host}/cli:nope`]);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe(`tel-image: image ${reg.host}/cli:nope not found; check the name and tag, or push it first\n`);
  });
});
