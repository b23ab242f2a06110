// CPU per tunnelled request, per process, at a load that leaves CPU idle (so preemption and
// run-queue effects on this shared 2-core machine stay small): a steadier figure than req/s for
// comparing two builds of the data path. Needs a connected session (the bench's own, or
// `bash scripts/main.sh`) and prints one line per run.
//   node --import tsx bench/connect/cpu-per-request.ts <url> [seconds=8] [concurrency=2] [runs=3]
import { ensureClusterUp } from '@tel/testcluster';
import { cpuDelta, cpuSnapshot } from './cpu.js';

const [url, seconds = '8', conc = '2', runs = '3'] = process.argv.slice(2);
if (!url) throw new Error('usage: cpu-per-request.ts <url> [seconds] [concurrency] [runs]');
const client = `
const http = require('node:http'); const end = Date.now() + ${Number(seconds) * 1000}; let ok = 0, fail = 0;
const one = () => new Promise((res) => { const q = http.get(${JSON.stringify(url)}, { agent: false }, (r) => { r.resume(); r.on('end', () => { ok++; res(); }); }); q.on('error', () => { fail++; res(); }); });
(async () => { await Promise.all(Array.from({ length: ${Number(conc)} }, async () => { while (Date.now() < end) await one(); }));
  const c = process.cpuUsage(); console.log(JSON.stringify({ ok, fail, cpuMs: (c.user + c.system) / 1000 })); })();`;
const cluster = await ensureClusterUp();
// One warm-up run: the daemons' and the manager's paths tier up in V8 first.
await cluster.wsExec('node', ['-e', client], { timeoutMs: 120_000 });
for (let i = 0; i < Number(runs); i++) {
  const before = cpuSnapshot();
  const r = await cluster.wsExec('node', ['-e', client], { timeoutMs: 120_000 });
  const cpu = cpuDelta(before, cpuSnapshot());
  // The client has exited before the second snapshot: it reports its own CPU (its whole run, start-up included).
  const { ok, fail, cpuMs } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: number; fail: number; cpuMs: number };
  const per = (name: string) => ((cpu.find((c) => c.name === name)?.ms ?? 0) * 1000) / ok;
  const cluster3 = per('kube-apiserver') + per('kubelet') + per('containerd');
  process.stdout.write(
    `${ok} ok ${fail} failed, ${(ok / Number(seconds)).toFixed(0)} req/s; µs/request: manager ${per('node:traffic-manager').toFixed(0)}, user daemon ${per('node:user-daemon').toFixed(0)}, root daemon ${per('node:root-daemon').toFixed(0)}, apiserver+kubelet+containerd ${cluster3.toFixed(0)}, server ${per('node:bench-client/server').toFixed(0)}, client ${((cpuMs * 1000) / ok).toFixed(0)}\n`,
  );
}
