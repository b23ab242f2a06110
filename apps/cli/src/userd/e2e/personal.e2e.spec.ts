// Personal intercepts against the real test cluster: two developers (their own daemons, homes and
// kubeconfigs: the admin and the restricted developer) intercept one Deployment's port with their
// own headers; every kind of HTTP exchange is routed request by request; clashes and bad filters
// are one line; uninstall gives the template back exactly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { buildVersion, cliRunner, kubectlAsAdmin, pushManager, removeManager, userEnv, type Build, type Tp } from './harness.js';
import { appManifests, specOf, stopWorkstationServer } from './intercept-world.js';
import { clientChecks, startNamedServer, whoAnswers } from './personal-world.js';

const RUN = Date.now().toString(36);
const V = `v2.92.0-e2e.${RUN}`;
const NS = 'tel-personal-e2e';
const URL_WEB = `http://web.${NS}:8080`;
const ALICE_PORT = 4571;
const BOB_PORT = 4572;

let cluster: ClusterInfo;
let dir: string;
let build: Build;
let alice: Tp;
let bob: Tp;
const servers: number[] = [];
const kubectl = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);
const measured: Record<string, number> = {};
const count = (xs: string[], who: string) => xs.filter((x) => x === `200 ${who}`).length;

beforeAll(async () => {
  cluster = await ensureClusterUp();
  dir = mkdtempSync(join(tmpdir(), 'tel-personal-e2e-'));
  build = await buildVersion(join(dir, 'dist'), V, cluster.registry);
  await pushManager(build, join(dir, 'dist'));
  await removeManager(cluster);
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true']);
  await kubectl(['apply', '-f', '-'], appManifests(NS, cluster.demoServerImage, build.info.image));
  // A port declared TLS, in front of the pods nothing else selects.
  await kubectl(['apply', '-f', '-'], `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lonely", "namespace": "${NS}"}, "spec": {"selector": {"app": "lonely"}, "ports": [{"name": "https", "port": 443, "targetPort": 8080}]}}`);
  for (const w of ['deployment/web', 'deployment/client']) await kubectl(['rollout', 'status', w, '-n', NS, '--timeout=150s']);
  alice = cliRunner(cluster, build, userEnv(join(dir, 'alice'), cluster.registry), cluster.adminKubeconfig);
  bob = cliRunner(cluster, build, userEnv(join(dir, 'bob'), cluster.registry), cluster.developerKubeconfig);
  servers.push(await startNamedServer(cluster, 'alice', ALICE_PORT, join(dir, 'alice.log')), await startNamedServer(cluster, 'bob', BOB_PORT, join(dir, 'bob.log')));
  for (const tp of [alice, bob]) {
    const c = await tp('connect', '--output', 'json');
    expect(c.code, c.stdout + c.stderr).toBe(0);
  }
}, 900_000);

afterAll(async () => {
  for (const tp of [alice, bob]) if (tp) await tp('quit', '-s').catch(() => undefined);
  for (const pid of servers) await stopWorkstationServer(cluster, pid);
  if (cluster) {
    await kubectl(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']).catch(() => undefined);
    await removeManager(cluster).catch(() => undefined);
  }
  process.stderr.write(`personal e2e measured: ${JSON.stringify(measured)}\n`);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 300_000);

describe('personal intercepts (real cluster, two developers)', () => {
  let webSpec: string;

  it('two developers on one port: each gets only their requests, the rest reach the pods', async () => {
    webSpec = await specOf(cluster, NS, 'deployment/web');
    const a = await alice('intercept', 'web', '-n', NS, '--port', `${ALICE_PORT}:http`, '--http-header', 'x-dev=alice', '--output', 'json');
    expect(a.code, a.stdout + a.stderr).toBe(0);
    measured.firstPersonalMs = a.ms;
    expect(a.json.intercept).toMatchObject({ state: 'active', spec: { filter: { headers: ['x-dev=alice'] } } });
    const b = await bob('intercept', 'web', '-n', NS, '--port', `${BOB_PORT}:http`, '--http-header', 'x-dev=bob', '--http-path-prefix', '/', '--output', 'json');
    expect(b.code, b.stdout + b.stderr).toBe(0);
    measured.secondPersonalMs = b.ms;
    expect(await whoAnswers(cluster, NS, URL_WEB, { 'x-dev': 'alice' })).toEqual(Array(6).fill('200 alice'));
    expect(await whoAnswers(cluster, NS, URL_WEB, { 'x-dev': 'bob' })).toEqual(Array(6).fill('200 bob'));
    expect(count(await whoAnswers(cluster, NS, URL_WEB, {}), 'demo-server')).toBe(6);
    expect(count(await whoAnswers(cluster, NS, URL_WEB, { 'x-dev': 'carol' }), 'demo-server')).toBe(6);
  });

  it('list shows everyone’s intercepts on the workload with their filters', async () => {
    const l = await bob('list', '-n', NS);
    expect(l.code, l.stderr).toBe(0);
    const line = l.stdout.split('\n').find((x) => x.startsWith('web'))!;
    expect(line).toMatch(/\(web\) on web:http, requests matching --http-header x-dev=alice → workstation port 4571/);
    expect(line).toMatch(/\(web\) on web:http, requests matching --http-header x-dev=bob --http-path-prefix \/ → workstation port 4572/);
  });

  it('routes every kind of exchange by its own request: keep-alive mix, chunked, 100-continue, pipelining, WebSocket, gRPC', async () => {
    const r = await clientChecks(cluster, NS, URL_WEB, ['x-dev', 'alice']);
    expect(r).toEqual({
      keepAliveMix: 'alice,demo-server,alice,alice,demo-server,alice sockets=1',
      chunkedUpload: 'ok alice',
      expectContinue: 'ok alice',
      pipelined: 'alice/p1,demo-server/p2,alice/p3',
      websocket: 'ok alice',
      grpc: 'unary=alice status=0 exact streaming=alice status=0 exact other=demo-server status=0',
    });
  });

  it('clashes and bad filters are one line naming what and who; nothing changes in the cluster', async () => {
    const cases: [Tp, string[], RegExp][] = [
      [alice, ['intercept', 'web-all', '--workload', 'web', '-n', NS, '--port', '4573:http'], /has personal intercepts by .*\(web\), .*\(web\); a global intercept would take their traffic/],
      [bob, ['intercept', 'web-again', '--workload', 'web', '-n', NS, '--port', '4573:http', '--http-header', 'x-dev=alice'], /already has an intercept with the same filter, by .* \(web\)/],
      [alice, ['intercept', 'lonely', '-n', NS, '--port', '4573:https', '--http-header', 'x-dev=alice'], /lonely:https can't take an HTTP filter: its name https says https, not HTTP/],
      [alice, ['intercept', 'web', '-n', NS, '--http-header', 'x-dev=(alice'], /--http-header "x-dev=\(alice": .*Unterminated group/],
      [alice, ['intercept', 'web', '-n', NS, '--http-header', 'no-equals'], /expected NAME=VALUE/],
      [alice, ['intercept', 'web', '-n', NS, '--http-path-prefix', '/a', '--http-path-equal', '/b'], /use only one of --http-path-equal, --http-path-prefix, --http-path-regex/],
    ];
    for (const [tp, args, msg] of cases) {
      const r = await tp(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      // Progress lines may come first (stderr is not a terminal); the failure is one line.
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('telepresence intercept: error'));
      expect(errors, r.stderr).toHaveLength(1);
      expect(errors[0]).toMatch(msg);
    }
    expect(await specOf(cluster, NS, 'deployment/lonely')).not.toMatch(/telepresence/);
    expect((await alice('list', '-n', NS, '--intercepts', '--output', 'json')).json.intercepts).toHaveLength(2);
  });

  it('one leaves, the other keeps working; --http-header=auto makes a header of its own', async () => {
    expect((await alice('leave', 'web')).code).toBe(0);
    expect(count(await whoAnswers(cluster, NS, URL_WEB, { 'x-dev': 'alice' }), 'demo-server')).toBe(6);
    expect(await whoAnswers(cluster, NS, URL_WEB, { 'x-dev': 'bob' })).toEqual(Array(6).fill('200 bob'));
    const a = await alice('intercept', 'web', '-n', NS, '--port', `${ALICE_PORT}:http`, '--http-header=auto', '--output', 'json');
    expect(a.code, a.stdout + a.stderr).toBe(0);
    const header = a.json.header as { name: string; value: string };
    expect(header.name).toBe('x-telepresence-intercept-id');
    expect(header.value).toMatch(/^[0-9a-f-]{36}:web$/);
    const text = await alice('list', '-n', NS);
    expect(text.stdout).toContain(`--http-header x-telepresence-intercept-id=`);
    expect(await whoAnswers(cluster, NS, URL_WEB, { [header.name]: header.value })).toEqual(Array(6).fill('200 alice'));
    expect(count(await whoAnswers(cluster, NS, URL_WEB, { [header.name]: `${header.value}x` }), 'demo-server')).toBe(6);
    expect((await alice('leave', 'web')).code).toBe(0);
  });

  it('with the last personal intercept gone a global one may take the port; uninstall restores the template exactly', async () => {
    expect((await bob('leave', 'web')).code).toBe(0);
    const g = await alice('intercept', 'web', '-n', NS, '--port', `${ALICE_PORT}:http`, '--output', 'json');
    expect(g.code, g.stdout + g.stderr).toBe(0);
    measured.globalAfterPersonalMs = g.ms;
    expect(count(await whoAnswers(cluster, NS, URL_WEB, {}), 'alice')).toBe(6);
    const p = await bob('intercept', 'web', '-n', NS, '--port', `${BOB_PORT}:http`, '--http-header', 'x-dev=bob');
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/\(web\) for all its traffic \(a global intercept\)/);
    expect((await alice('leave', 'web')).code).toBe(0);
    const u = await alice('uninstall', 'web', '-n', NS);
    expect(u.code, u.stdout + u.stderr).toBe(0);
    await kubectl(['rollout', 'status', 'deployment/web', '-n', NS, '--timeout=150s']);
    expect(await specOf(cluster, NS, 'deployment/web')).toBe(webSpec);
  });
});
