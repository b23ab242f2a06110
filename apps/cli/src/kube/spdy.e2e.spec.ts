// Our SPDY/3.1 port-forward client against the real thing: the test cluster's API server,
// kubelet and containerd, driven from the workstation namespace (e2e/spdy-driver.ts).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoWorkloadManifest, ensureClusterUp, type ClusterInfo } from '@tel/testcluster';

const NS = 'tel-spdy-e2e';
let cluster: ClusterInfo;
let pod: string;
const driver = join(import.meta.dirname, 'e2e', 'spdy-driver.ts');

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await cluster.wsExec('kubectl', args, { timeoutMs: 180_000, ...(input ? { input } : {}) });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

async function drive(user: 'admin' | 'developer', namespace: string, podName: string, port: number): Promise<any> {
  const r = await cluster.wsExec('node', ['--import', 'tsx', driver, namespace, podName, String(port)], { user, timeoutMs: 120_000, cwd: join(import.meta.dirname, '..', '..') });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`driver failed (${r.code}): ${r.stderr || r.stdout}`);
  }
}

beforeAll(async () => {
  cluster = await ensureClusterUp();
  await kubectl(['apply', '-f', '-'], demoWorkloadManifest({ image: cluster.demoServerImage, namespace: NS }));
  await kubectl(['rollout', 'status', '-n', NS, 'deployment/demo', '--timeout=120s']);
  pod = await kubectl(['get', 'pods', '-n', NS, '-l', 'app=demo', '-o', 'jsonpath={.items[0].metadata.name}']);
}, 600_000);

afterAll(async () => {
  await cluster?.wsExec('kubectl', ['delete', 'namespace', NS, '--wait=false', '--ignore-not-found'], { timeoutMs: 60_000 }).catch(() => undefined);
});

describe('SPDY port-forward against the real API server', () => {
  it('upgrades, pings, carries one request and 100 concurrent ones, and reports a refused port on the error stream', async () => {
    const r = await drive('admin', NS, pod, 8080);
    expect(r.error).toBeUndefined();
    expect(r.pingMs).toBeGreaterThan(0);
    expect(r.single.error).toBe('');
    expect(r.single.body).toMatch(/^HTTP\/1\.0 200 OK/);
    expect(r.single.body).toContain(`pod=${pod}`);
    expect(r.single.body).toContain('path=/e2e');
    expect(r.concurrentOk).toBe(100);
    // A closed port: the runtime's dial error arrives on the error stream, the session survives.
    expect(r.refused.error).toMatch(/connection refused/);
    expect(r.refused.body).toBe('');
    expect(r.stillOpen).toBe(true);
    process.stderr.write(`spdy e2e: upgrade ${r.upgradeMs.toFixed(1)} ms, ping ${r.pingMs.toFixed(2)} ms, 100 concurrent exchanges ${r.concurrentMs.toFixed(0)} ms\n`);
  });

  it('is refused with the API server\'s 403 where the user lacks create on pods/portforward (the connect e2e shows create alone suffices)', async () => {
    // The developer may not port-forward in NS: the upgrade is refused with the API's 403.
    const refused = await drive('developer', NS, pod, 8080);
    expect(refused.statusCode).toBe(403);
    expect(refused.error).toMatch(/HTTP 403: .*forbidden/);
  });
});
