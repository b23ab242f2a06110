// Smoke test of the real test cluster: up, workloads, DNS, reachability from each namespace,
// RBAC of the developer, idempotent up, down + up again, and down after a crashed up.
// Needs root; takes a minute or two. Leaves the cluster down.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_DIR } from './build.js';
import { otherClusterRunning } from './cgroups.js';
import { down, up } from './cluster.js';
import { type ClusterInfo, clusterInfo, ensureClusterUp } from './index.js';
import { K8S_VERSION, defaultLayout } from './layout.js';
import { type HostSnapshot, findLeftovers, hostSnapshot, isClean, netnsInodes } from './leftovers.js';
import { kubectl } from './kubectl.js';
import { livePid, sleep, waitFor } from './proc.js';
import { clusterStatus } from './status.js';
import { RESOLVER_FLAVOURS } from './workstation-etc.js';

// Its own instance: the smoke test takes its cluster up and down, the shared default one may be in use.
const l = defaultLayout(process.env, 'smoke');
const log = (m: string) => process.stderr.write(`[smoke] ${m}\n`);
const timings: Record<string, number> = {};
let cluster: ClusterInfo;
let hostBefore: HostSnapshot & { otherCluster?: boolean };

function demoObjects(image: string): string {
  const labels = { app: 'demo' };
  const env = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
  ];
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'demo', namespace: 'default', labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: 'demo',
                  image,
                  env,
                  ports: [{ containerPort: 8080 }, { containerPort: 8080, protocol: 'UDP' }],
                  readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'demo', namespace: 'default' },
        spec: {
          selector: labels,
          ports: [
            { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' },
            { name: 'udp', port: 8080, targetPort: 8080, protocol: 'UDP' },
          ],
        },
      },
    ],
  });
}

async function k(args: string[], input?: string): Promise<string> {
  return (await kubectl(l, args, input === undefined ? {} : { input })).stdout;
}

describe('test cluster smoke', () => {
  beforeAll(async () => {
    await down(l, log);
    hostBefore = { ...(await hostSnapshot()), otherCluster: otherClusterRunning(l) };
    const t = Date.now();
    const r = await up(l, log);
    timings.upSeconds = (Date.now() - t) / 1000;
    expect(r.alreadyUp).toBe(false);
    cluster = clusterInfo(l);
  });

  afterAll(async () => {
    await down(l, log);
    log(`timings: ${JSON.stringify(timings)}`);
  });

  it('comes up within 90 s with the node Ready and every component healthy', async () => {
    expect(timings.upSeconds).toBeLessThan(90);
    const s = await clusterStatus(l);
    expect(s.state).toBe('up');
    expect(s.nodeReady).toBe(true);
    expect(s.corednsReady).toBe(true);
    timings.memoryMiB = Math.round((s.memory?.usageBytes ?? 0) / 1048576);
    expect(s.memory!.usageBytes).toBeLessThan(2 * 1024 ** 3);
  });

  it('treats up on a running cluster as a no-op', async () => {
    const holder = livePid(l.pidDir, 'node-holder');
    const t = Date.now();
    const r = await up(l, log);
    expect(r.alreadyUp).toBe(true);
    expect(Date.now() - t).toBeLessThan(10_000);
    // The programmatic API too (what e2e tests in other packages call).
    const info = await ensureClusterUp({ layout: l });
    expect(livePid(l.pidDir, 'node-holder')).toBe(holder);
    expect(info).toMatchObject({ registry: l.registry, adminKubeconfig: l.adminKubeconfig, apiServer: 'https://198.18.0.1:6443' });
    const who = await info.wsExec('kubectl', ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { user: 'developer' });
    expect(who.stdout).toBe('developer');
    const ver = await info.wsExec('kubectl', ['version', '--client', '-o', 'json']);
    expect(JSON.parse(ver.stdout).clientVersion.gitVersion).toBe(K8S_VERSION);
  });

  it('runs a Deployment + Service of the demo server built by @tel/image', async () => {
    await k(['apply', '-f', '-'], demoObjects(cluster.demoServerImage));
    await k(['rollout', 'status', 'deployment/demo', '--timeout=90s']);
    const pods = JSON.parse(await k(['get', 'pods', '-l', 'app=demo', '-o', 'json'])) as { items: any[] };
    expect(pods.items[0]?.status?.podIP).toMatch(/^198\.18\.1(2[89]|[3-9]\d|[0-9]\d\d)\./);
  });

  it('resolves the service name through CoreDNS inside a pod and answers over the ClusterIP', async () => {
    const svcIp = (await k(['get', 'svc', 'demo', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    expect(svcIp).toMatch(/^198\.19\./);
    const lookup = await k(['exec', 'deploy/demo', '--', '/demo-server', 'lookup', 'demo.default.svc.cluster.local', 'demo']);
    expect(lookup).toContain(`demo.default.svc.cluster.local ${svcIp}`);
    // kube-proxy programs the new endpoints a moment after the rollout reports Ready.
    const body = await waitFor('the service to answer', 20_000, () =>
      k(['exec', 'deploy/demo', '--', '/demo-server', 'get', 'http://demo.default.svc.cluster.local/hello']),
    );
    expect(body).toMatch(/demo-server pod=demo-\S+ namespace=default ip=198\.18\.\d+\.\d+ .*path=\/hello/);
    const udp = await k(['exec', 'deploy/demo', '--', '/demo-server', 'udp', `${svcIp}:8080`, 'ping']);
    expect(udp).toMatch(/^demo-\S+: ping/);
  });

  it('resolves public names from a pod through CoreDNS and the inet DNS server', async () => {
    const out = await k(['exec', 'deploy/demo', '--', '/demo-server', 'get', 'http://docs.rs/']);
    expect(out).toContain('inet host=docs.rs local=198.18.64.10:80');
  });

  it('reaches the pod IP from the node namespace', async () => {
    const ip = (await k(['get', 'pods', '-l', 'app=demo', '-o', 'jsonpath={.items[0].status.podIP}'])).trim();
    const r = await cluster.nodeExec('curl', ['-s', '--max-time', '5', `http://${ip}:8080/from-node`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ip=${ip}`);
  });

  it('reaches the API server, but no pod, from the workstation namespace', async () => {
    const ok = await cluster.wsExec('kubectl', ['get', '--raw', '/readyz']);
    expect(ok.stdout.trim()).toBe('ok');
    const nodes = await cluster.wsExec('kubectl', ['get', 'nodes', '-o', 'name']);
    expect(nodes.stdout.trim()).toBe('node/tptc-node');
    const ip = (await k(['get', 'pods', '-l', 'app=demo', '-o', 'jsonpath={.items[0].status.podIP}'])).trim();
    const r = await cluster.wsExec('curl', ['-s', '--max-time', '2', `http://${ip}:8080/`]);
    expect(r.code).not.toBe(0);
  });

  it('resolves public names on the workstation through its own systemd-resolved', async () => {
    const rc = await cluster.wsExec('cat', ['/etc/resolv.conf']);
    expect(rc.stdout).toContain('nameserver 127.0.0.53');
    const q = await cluster.wsExec('resolvectl', ['query', '--legend=no', 'example.com']);
    expect(q.stdout).toContain('198.18.64.11');
    for (const resolver of RESOLVER_FLAVOURS) {
      const http = await cluster.wsExec('curl', ['-s', '--max-time', '5', 'http://docs.rs/'], { resolver });
      expect(http.stdout, resolver).toContain('inet host=docs.rs');
    }
    // The pinned styles, not the host's: resolved's stub file and `files dns`, or nss-resolve.
    expect((await cluster.wsExec('readlink', ['/etc/resolv.conf'])).stdout.trim()).toBe('/run/systemd/resolve/stub-resolv.conf');
    expect((await cluster.wsExec('grep', ['^hosts:', '/etc/nsswitch.conf'])).stdout).toMatch(/^hosts:\s+files dns\n$/);
    expect((await cluster.wsExec('grep', ['^hosts:', '/etc/nsswitch.conf'], { resolver: 'nss-resolve' })).stdout).toMatch(/resolve \[!UNAVAIL=return\]/);
  });

  it('restricts the developer to the agreed permissions', async () => {
    const can = async (...args: string[]) =>
      (await cluster.wsExec('kubectl', ['auth', 'can-i', ...args], { user: 'developer' })).stdout.trim();
    expect(await can('list', 'namespaces')).toBe('yes');
    expect(await can('list', 'pods', '-n', 'ambassador')).toBe('yes');
    expect(await can('create', 'pods', '--subresource=portforward', '-n', 'ambassador')).toBe('yes');
    expect(await can('list', 'services', '--all-namespaces')).toBe('yes');
    expect(await can('watch', 'deployments.apps', '--all-namespaces')).toBe('yes');
    expect(await can('get', 'statefulsets.apps', '-n', 'default')).toBe('yes');
    expect(await can('list', 'pods', '-n', 'default')).toBe('no');
    expect(await can('create', 'pods', '--subresource=portforward', '-n', 'default')).toBe('no');
    expect(await can('create', 'deployments.apps', '-n', 'ambassador')).toBe('no');
    expect(await can('get', 'secrets', '-n', 'ambassador')).toBe('no');
  });

  it('lets the developer port-forward to a pod in the manager namespace from the workstation', async () => {
    await k(['-n', 'ambassador', 'run', 'pf', `--image=${cluster.demoServerImage}`, '--port=8080']);
    await k(['-n', 'ambassador', 'wait', '--for=condition=Ready', 'pod/pf', '--timeout=60s']);
    const script = [
      'kubectl -n ambassador port-forward pod/pf 18080:8080 >/dev/null 2>&1 & pf=$!',
      'for i in $(seq 50); do curl -s --max-time 2 http://127.0.0.1:18080/via-port-forward && break; sleep 0.1; done',
      'kill $pf',
    ].join('\n');
    const r = await cluster.wsExec('/bin/sh', ['-c', script], { user: 'developer', timeoutMs: 30_000 });
    expect(r.stdout).toContain('demo-server pod=pf');
    expect(r.stdout).toContain('path=/via-port-forward');
  });

  it('goes down without leaving anything behind, and comes up again', async () => {
    // Something a test left running on the workstation: `down` ends it too.
    const bg = await cluster.wsExec('/bin/sh', ['-c', 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $!']);
    expect(Number(bg.stdout.trim())).toBeGreaterThan(0);
    const inodes = netnsInodes(l);
    let t = Date.now();
    const d = await down(l, log);
    timings.downSeconds = (Date.now() - t) / 1000;
    expect(timings.downSeconds).toBeLessThan(15);
    expect(d.restoredSysctls.length).toBeGreaterThanOrEqual(0);
    const left = await waitFor('a clean machine', 5000, async () => {
      const x = findLeftovers(l, inodes);
      return isClean(x) ? x : undefined;
    }).catch(() => findLeftovers(l, inodes));
    expect(left).toEqual({ netns: [], cgroups: [], processes: [], mounts: [] });
    t = Date.now();
    const r = await up(l, log);
    timings.reUpSeconds = (Date.now() - t) / 1000;
    expect(r.alreadyUp).toBe(false);
    expect((await clusterStatus(l)).state).toBe('up');
  });

  it('cleans up after an up that crashed half-way', async () => {
    await down(l, log);
    // A separate `up` process, SIGKILLed while the API server is starting.
    const child = spawn(process.execPath, ['--import', 'tsx', join(TOOL_DIR, 'src', 'cli.ts'), 'up', '--instance', 'smoke'], { stdio: 'ignore' });
    await waitFor('the crashing up to start the API server', 60_000, async () => (livePid(l.pidDir, 'kube-apiserver') ? true : undefined), 50);
    child.kill('SIGKILL');
    await sleep(200);
    expect((await clusterStatus(l)).state).toBe('partial');
    const inodes = netnsInodes(l);
    await down(l, log);
    const left = await waitFor('a clean machine', 5000, async () => {
      const x = findLeftovers(l, inodes);
      return isClean(x) ? x : undefined;
    }).catch(() => findLeftovers(l, inodes));
    expect(left).toEqual({ netns: [], cgroups: [], processes: [], mounts: [] });
  });

  it('left the host namespace exactly as it was (routes, links, iptables, resolv.conf, sysctls)', async () => {
    await down(l, log);
    const after = await hostSnapshot();
    if (otherClusterRunning(l) || hostBefore.otherCluster) {
      // Another instance (the shared one) owns the machine-wide sysctls right now.
      expect({ ...after, sysctls: {}, otherCluster: false }).toEqual({ ...hostBefore, sysctls: {}, otherCluster: false });
    } else {
      expect({ ...after, otherCluster: false }).toEqual(hostBefore);
    }
  });
});
