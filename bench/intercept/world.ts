// What both intercept benchmarks set up in the cluster and run in their client pod: a Deployment
// `app` behind Service `app` (port 80 → named port http), a client pod, the latency client, and the
// traffic agents' processes as seen from this machine (containerd runs them in its PID namespace).
import { readFileSync, readdirSync } from 'node:fs';
import { AGENT_BUNDLE_PATH } from '@tel/agent-config';

/** Namespace, app Deployment (`replicas`, running `server` with the tel2 image's node), Service and client pod. */
export function appManifest(o: { ns: string; image: string; replicas: number; server: string }): string {
  return `
apiVersion: v1
kind: Namespace
metadata: {name: ${o.ns}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: ${o.ns}}
spec:
  replicas: ${o.replicas}
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: ${o.image}
        command: [/usr/bin/node, -e, ${JSON.stringify(o.server)}]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: ${o.ns}}
spec:
  selector: {app: app}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: ${o.ns}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: ${o.image}
    command: [/usr/bin/node, -e, "setInterval(() => {}, 1 << 30)"]
`;
}

/**
 * A client-pod script: `n` GETs of `url` one at a time after `warmup` more, on one keep-alive
 * connection or a new connection each; prints {n, p50, p99, who} (who: answers by body).
 */
export function latencyClient(o: { url: string; n: number; warmup: number; keepAlive: boolean; headers?: Record<string, string> }): string {
  return `
const http = require('node:http'); const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const one = () => new Promise((res) => { const t = process.hrtime.bigint(); const q = http.get('${o.url}', { agent: ${o.keepAlive ? 'agent' : 'false'}, headers: ${JSON.stringify(o.headers ?? {})} }, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => res({ ms: Number(process.hrtime.bigint() - t) / 1e6, b })); }); q.on('error', (e) => res({ ms: -1, b: String(e) })); });
(async () => { for (let i = 0; i < ${o.warmup}; i++) await one(); const xs = []; const who = {};
  for (let i = 0; i < ${o.n}; i++) { const r = await one(); if (r.ms >= 0) xs.push(r.ms); who[r.b] = (who[r.b] || 0) + 1; }
  xs.sort((a, b) => a - b); const p = (q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  console.log(JSON.stringify({ n: xs.length, p50: p(0.5), p99: p(0.99), who })); agent.destroy(); })();`;
}

/** PIDs of the traffic agents running on this machine. */
export function agentPids(): string[] {
  return readdirSync('/proc').filter((p) => {
    try {
      return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(AGENT_BUNDLE_PATH);
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** CPU time (user + system, ms) a process used so far. */
export function cpuMs(pid: string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Resident memory of a process, MiB (0 once it is gone). */
export function rssMiB(pid: string): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}
