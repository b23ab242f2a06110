// The personal-intercept e2e's world: named servers on the workstation (fixtures/named-server.cjs,
// one per developer), and the client pod running fixtures/personal-client.cjs against a Service.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterInfo } from '@tel/testcluster';
import { kubectlAsAdmin } from './harness.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

/** Starts `named-server.cjs NAME PORT` on the workstation's 127.0.0.1; returns its pid once it answers. */
export async function startNamedServer(cluster: ClusterInfo, name: string, port: number, logFile: string): Promise<number> {
  const r = await cluster.wsExec('sh', ['-c', `node ${join(FIXTURES, 'named-server.cjs')} ${name} ${port} > ${logFile} 2>&1 & echo $!`], { timeoutMs: 10_000 });
  const pid = Number(r.stdout.trim());
  if (!pid) throw new Error(`server ${name} did not start: ${r.stderr}`);
  for (let i = 0; i < 50; i++) {
    const c = await cluster.wsExec('curl', ['-s', `http://127.0.0.1:${port}/`], { timeoutMs: 5_000 });
    if (c.stdout.startsWith(name)) return pid;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`server ${name} does not answer`);
}

/** Every exchange personal-client.cjs checks, from the client pod through `url`, with `header` set where it says. */
export async function clientChecks(cluster: ClusterInfo, ns: string, url: string, header: [string, string]): Promise<Record<string, string>> {
  // The image has node and little else: the input rides in the script.
  const script = `process.env.TEL_CHECKS = ${JSON.stringify(JSON.stringify({ url, header }))};\n${readFileSync(join(FIXTURES, 'personal-client.cjs'), 'utf8')}`;
  const out = await kubectlAsAdmin(cluster, ['exec', '-n', ns, 'deploy/client', '--', '/usr/bin/node', '-e', script]);
  return JSON.parse(out) as Record<string, string>;
}

/** GETs `url` from the client pod `n` times with `headers`, a new connection each; the first word of each answer. */
export async function whoAnswers(cluster: ClusterInfo, ns: string, url: string, headers: Record<string, string>, n = 6): Promise<string[]> {
  const script = `
const http = require('node:http');
(async () => {
  const out = [];
  for (let i = 0; i < ${n}; i++) {
    out.push(await new Promise((resolve) => {
      const req = http.get(${JSON.stringify(url)}, { agent: false, timeout: 5000, headers: ${JSON.stringify(headers)} }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve(res.statusCode + ' ' + b.split(' ')[0].trim())); });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve('error: ' + e.message));
    }));
  }
  process.stdout.write(JSON.stringify(out));
})();`;
  return JSON.parse(await kubectlAsAdmin(cluster, ['exec', '-n', ns, 'deploy/client', '--', '/usr/bin/node', '-e', script])) as string[];
}
