// The world of the intercept e2e and bench: the workloads (a Deployment with a named port and
// ConfigMap/Secret environment, a StatefulSet with a numeric port, a Deployment no Service
// selects, a client pod; for the mesh e2e, Deployments behind a stand-in mesh sidecar), the
// workstation's server, and how a pod in the cluster calls a Service.
import type { ClusterInfo } from '@tel/testcluster';
import { kubectlAsAdmin } from './harness.js';

/** Where the workstation's server listens (127.0.0.1 in the workstation namespace). */
export const WS_PORT = 4567;

const probe = (port: string | number) => `readinessProbe: {httpGet: {path: /healthz, port: ${port}}, periodSeconds: 1}`;

/** The tricky value: spaces, both quotes and a `$` must arrive as they are in every env syntax. */
export const TRICKY = `it's "quoted" $HOME and  spaces`;

export function appManifests(ns: string, demoImage: string, clientImage: string): string {
  const demo = (name: string, portSpec: string, extraEnv = '') => `
      containers:
      - name: app
        image: ${demoImage}
        args: [serve]
        env:
        - {name: PORT, value: "8080"}
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}${extraEnv}
        ports: [${portSpec}]
        ${probe(name === 'web' ? 'http' : 8080)}`;
  const webEnv = `
        - {name: GREETING, valueFrom: {configMapKeyRef: {name: web-config, key: greeting}}}
        - {name: API_TOKEN, valueFrom: {secretKeyRef: {name: web-secret, key: token}}}
        - {name: TRICKY, value: ${JSON.stringify(TRICKY)}}`;
  return `
apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: ${ns}}
data: {greeting: hello from a configmap}
---
apiVersion: v1
kind: Secret
metadata: {name: web-secret, namespace: ${ns}}
stringData: {token: s3cr3t value}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:${demo('web', '{name: http, containerPort: 8080}', webEnv)}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${ns}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: http}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: ${ns}}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:${demo('db', '{containerPort: 8080}')}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: ${ns}}
spec:
  selector: {app: db}
  ports: [{port: 8080, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: lonely, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: lonely}}
  template:
    metadata: {labels: {app: lonely}}
    spec:${demo('lonely', '{containerPort: 8080}')}
---${clientDeployment(ns, clientImage)}`;
}

/** Deployment `client`: an idle pod with node (the tel2 image) that fromClient runs requests from. */
export function clientDeployment(ns: string, image: string): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: client, image: ${image}, command: [/usr/bin/node, -e, "setInterval(() => {}, 1 << 30)"]}
`;
}

/**
 * GETs each URL from the client pod, a new connection per request (so kube-proxy spreads them over
 * every pod); returns the bodies (or `error: ...`).
 */
export async function fromClient(cluster: ClusterInfo, ns: string, urls: string[]): Promise<string[]> {
  const script = `
const http = require('node:http');
(async () => {
  const out = [];
  for (const u of ${JSON.stringify(urls)}) {
    out.push(await new Promise((resolve) => {
      const req = http.get(u, { agent: false, timeout: 5000 }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve(b)); });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve('error: ' + e.message));
    }));
  }
  process.stdout.write(JSON.stringify(out));
})();`;
  const out = await kubectlAsAdmin(cluster, ['exec', '-n', ns, 'deploy/client', '--', '/usr/bin/node', '-e', script]);
  return JSON.parse(out) as string[];
}

/** `.spec` of a workload as the API server returns it, for byte-for-byte comparisons. */
export async function specOf(cluster: ClusterInfo, ns: string, workload: string): Promise<string> {
  const o = JSON.parse(await kubectlAsAdmin(cluster, ['get', workload, '-n', ns, '-o', 'json'])) as { spec: unknown };
  return JSON.stringify(o.spec, null, 1);
}

/**
 * `n` bytes made from `seed` (SHA-256 of "seed:i" for each 32-byte block): the body the workstation
 * server sends for /bulk/SEED/N, which a test recomputes to check what arrived byte for byte.
 */
export function bulkBody(seed: string, n: number, createHash: typeof import('node:crypto').createHash): Buffer {
  // Self-contained, createHash passed in: its source runs in the workstation server too.
  const out = Buffer.alloc(n);
  for (let off = 0, i = 0; off < n; off += 32, i++) createHash('sha256').update(`${seed}:${i}`).digest().copy(out, off);
  return out;
}

/**
 * Starts the workstation's HTTP server on 127.0.0.1:WS_PORT; returns its pid. It answers
 * "workstation path=…", and /bulk/SEED/N with bulkBody(SEED, N) written in 8000-byte pieces a turn
 * apart (each read on the way is small: the path where pooled chunks are given back at once).
 */
export async function startWorkstationServer(cluster: ClusterInfo, logFile: string): Promise<number> {
  const script = `const bulkBody = ${bulkBody.toString()};
require('node:http').createServer((q, s) => {
  const [, bulk, seed, size] = q.url.split('/');
  if (bulk !== 'bulk') return s.end('workstation path=' + q.url + '\\n');
  const b = bulkBody(seed, Number(size), require('node:crypto').createHash);
  s.writeHead(200, { 'content-length': b.length });
  let off = 0;
  const next = () => { if (off >= b.length) return s.end(); s.write(b.subarray(off, (off += 8000))); setImmediate(next); };
  next();
}).listen(${WS_PORT}, '127.0.0.1')`;
  const r = await cluster.wsExec('sh', ['-c', `node -e ${shellQuote(script)} > ${logFile} 2>&1 & echo $!`], { timeoutMs: 10_000 });
  const pid = Number(r.stdout.trim());
  if (!pid) throw new Error(`workstation server did not start: ${r.stderr}`);
  for (let i = 0; i < 50; i++) {
    const c = await cluster.wsExec('curl', ['-s', `http://127.0.0.1:${WS_PORT}/`], { timeoutMs: 5_000 });
    if (c.stdout.startsWith('workstation')) return pid;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('workstation server does not answer');
}

/** SHA-256 (hex) of each body the client pod got for `urls`, fetched all at once. */
export async function hashesFromClient(cluster: ClusterInfo, ns: string, urls: string[]): Promise<string[]> {
  const script = `
const http = require('node:http'); const { createHash } = require('node:crypto');
Promise.all(${JSON.stringify(urls)}.map((u) => new Promise((resolve) => {
  const req = http.get(u, { agent: false, timeout: 30000 }, (res) => { const h = createHash('sha256'); res.on('data', (c) => h.update(c)); res.on('end', () => resolve(h.digest('hex'))); });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => resolve('error: ' + e.message));
}))).then((out) => process.stdout.write(JSON.stringify(out)));`;
  return JSON.parse(await kubectlAsAdmin(cluster, ['exec', '-n', ns, 'deploy/client', '--', '/usr/bin/node', '-e', script])) as string[];
}

export async function stopWorkstationServer(cluster: ClusterInfo, pid: number): Promise<void> {
  await cluster.wsExec('kill', [String(pid)], { timeoutMs: 5_000 }).catch(() => undefined);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The mesh e2e's world: Deployments carrying the test cluster's stand-in for an Istio sidecar the
 * way `istioctl kube-inject` writes one into a template (status annotation, `istio-init` with
 * NET_ADMIN, `istio-proxy` as UID 1337, its stats port 15020 kept out of the capture). `mesh-web`
 * has a named targetPort, `mesh-db` a numeric one, `mesh-hidden` excludes its app port from the
 * mesh's inbound capture (traffic.sidecar.istio.io/excludeInboundPorts, as Istio passes it on to
 * istio-init's -d).
 */
export const MESH_STATS_PORT = 15020;

export function meshManifests(ns: string, demoImage: string, meshImage: string, clientImage: string): string {
  const workload = (name: string, portSpec: string, targetPort: string | number, exclude?: number) => `
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata:
      labels: {app: ${name}}
      annotations:
        sidecar.istio.io/status: '{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":[]}'${exclude ? `
        traffic.sidecar.istio.io/excludeInboundPorts: "${exclude}"` : ''}
    spec:
      terminationGracePeriodSeconds: 1
      initContainers:
      - name: istio-init
        image: ${meshImage}
        args: [init, -p, "15001", -z, "15006", -u, "1337", -m, REDIRECT, -i, "*", -x, "", -b, "*", -d, "${[MESH_STATS_PORT, ...(exclude ? [exclude] : [])].join(',')}"]
        securityContext: {runAsUser: 0, runAsNonRoot: false, capabilities: {add: [NET_ADMIN, NET_RAW], drop: [ALL]}}
      containers:
      - name: app
        image: ${demoImage}
        args: [serve]
        env:
        - {name: PORT, value: "8080"}
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        ports: [${portSpec}]
        ${probe(targetPort)}
      - name: istio-proxy
        image: ${meshImage}
        args: [proxy, -s, "${MESH_STATS_PORT}"]
        ports: [{name: http-envoy-prom, containerPort: ${MESH_STATS_PORT}}]
        securityContext: {runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 8080, targetPort: ${targetPort}}]`;
  return [
    `
apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---${clientDeployment(ns, clientImage)}`,
    workload('mesh-web', '{name: http, containerPort: 8080}', 'http'),
    workload('mesh-db', '{containerPort: 8080}', 8080),
    workload('mesh-hidden', '{containerPort: 8080}', 8080, 8080),
  ].join('\n');
}

/** The stand-in proxies' connection counts of a workload's pods (GET :15020/stats, from the client pod), summed. */
export async function meshStats(cluster: ClusterInfo, ns: string, app: string): Promise<{ inbound: Record<string, number>; outbound: Record<string, number>; pods: number }> {
  const ips = (await kubectlAsAdmin(cluster, ['get', 'pods', '-n', ns, '-l', `app=${app}`, '--field-selector', 'status.phase=Running', '-o', 'jsonpath={.items[*].status.podIP}'])).split(/\s+/).filter(Boolean);
  const sum = { inbound: {} as Record<string, number>, outbound: {} as Record<string, number>, pods: ips.length };
  for (const body of await fromClient(cluster, ns, ips.map((ip) => `http://${ip}:${MESH_STATS_PORT}/stats`))) {
    const s = JSON.parse(body) as { inbound: Record<string, number>; outbound: Record<string, number> };
    for (const dir of ['inbound', 'outbound'] as const) for (const [k, v] of Object.entries(s[dir])) sum[dir][k] = (sum[dir][k] ?? 0) + v;
  }
  return sum;
}
