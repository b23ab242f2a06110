// `verify-cli [bundle <app>]... [image]`: the verify-version target; exits 1 naming each artifact
// whose version differs from dist/version/version.json.
import { join } from 'node:path';
import { readBuildInfo, workspaceRoot } from '@tel/genversion';
import { IMAGE_BUNDLE_PATH } from './image.js';
import { verifyBundle, verifyImage, type Finding } from './verify.js';

async function main(argv: string[]): Promise<number> {
  const root = workspaceRoot();
  const info = readBuildInfo(root);
  const findings: Finding[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === 'bundle') {
      const app = argv[++i]!;
      findings.push(verifyBundle(join(root, 'dist', 'apps', app, 'main.js'), info, `dist/apps/${app}/main.js`));
    } else if (argv[i] === 'image') {
      findings.push(...(await verifyImage(info, IMAGE_BUNDLE_PATH)));
    }
  }
  for (const f of findings) {
    process.stdout.write(`${f.ok ? 'ok  ' : 'FAIL'} ${f.artifact}: ${f.version ?? 'no version found'}\n`);
  }
  const bad = findings.filter((f) => !f.ok);
  if (bad.length) {
    process.stderr.write(`verify-version: ${bad.map((b) => b.artifact).join(', ')} carries ${bad[0]!.version ?? 'no version'}, expected ${info.version}; rebuild with 'npx nx run-many -t build push-image'\n`);
    return 1;
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`verify-version: ${err.message}${'hint' in err && err.hint ? `; ${err.hint}` : ''}\n`);
  return 1;
});
