// The intercept state against a fake injector: desired state → describe → agent → rollout →
// agents serving → active; the failures a user can cause; sessions going away.
import { describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import type { AgentIntercept, InterceptSpec, SessionSummary } from '@tel/contracts';
import { FakeInstaller, service, template } from '../testing/fake-installer.js';
import { AgentStore } from './agents.js';
import { InterceptStore } from './intercepts.js';
import type { WatchSink } from '../router.js';

const log = createLogger(undefined);
const tick = () => new Promise((r) => setTimeout(r, 5));

function world() {
  const installer = new FakeInstaller();
  installer.add({ namespace: 'default', kind: 'Deployment', name: 'web' }, template('web', 8080, 'http'), 2);
  installer.add({ namespace: 'default', kind: 'StatefulSet', name: 'db' }, template('db', 5432));
  installer.add({ namespace: 'default', kind: 'Deployment', name: 'lonely' }, template('lonely', 9000));
  installer.services = [service('web', 80, 'http'), service('db', 5432, 5432)];
  const intercepts = new InterceptStore(installer, log);
  const agents = new AgentStore((a) => intercepts.agentIntercepts(a.workload, a.configHash), log);
  intercepts.attach(agents);
  const sessions: SessionSummary[] = [];
  const session = (id: string, specs: InterceptSpec[]) => {
    const s: SessionSummary = { sessionId: id, client: { user: id, host: 'ws', version: 'v1' }, desired: { intercepts: specs }, arrivedAt: '', lastSeen: '', expiresAt: '' };
    const i = sessions.findIndex((x) => x.sessionId === id);
    if (i >= 0) sessions[i] = s;
    else sessions.push(s);
    intercepts.reconcile(sessions);
  };
  const end = (id: string) => {
    sessions.splice(sessions.findIndex((x) => x.sessionId === id), 1);
    intercepts.reconcile(sessions);
  };
  /** An agent of `workload` with config `hash` that arrived and watches; returns what it was sent. */
  const agent = (workload: string, hash: string, pod: string, kind: 'Deployment' | 'StatefulSet' = 'Deployment') => {
    const got: AgentIntercept[][] = [];
    const abort = new AbortController();
    const { agentSessionId } = agents.arrive({ pod, podIp: '10.0.0.1', namespace: 'default', workload: { kind, name: workload }, version: 'v1', configHash: hash, environment: { DB: 'x' } }, { namespace: 'default', serviceAccount: 'default' });
    const sink: WatchSink<{ intercepts: AgentIntercept[] }> = { send: (e) => got.push(e.intercepts), signal: abort.signal };
    agents.watch(agentSessionId, sink);
    return { got, leave: () => abort.abort(), agentSessionId };
  };
  return { installer, intercepts, agents, session, end, agent };
}

const spec = (name: string, workload: string, extra: Partial<InterceptSpec> = {}): InterceptSpec => ({ name, namespace: 'default', workload, localPort: 3000, ...extra });
const done = (n: number) => ({ podsWanted: n, podsReady: n, done: true, message: 'done' });

describe('InterceptStore', () => {
  it('becomes active only when the rollout is done and every wanted pod has an agent of the new config', async () => {
    const w = world();
    w.session('a', [spec('web-default', 'web')]);
    await tick();
    const [i] = w.intercepts.ofSession('a');
    expect(i).toMatchObject({ state: 'installing', service: 'web', servicePort: 80, appPort: 8080, podsWanted: 2 });
    const hash = w.installer.calls.find((c) => c.startsWith('ensure web'))!.split(' ')[2]!;
    expect(w.installer.calls).toContain(`watch web ${hash}`);
    const one = w.agent('web', hash, 'web-1');
    // The first new pod serves at once, while the rollout goes on.
    const id = w.intercepts.ofSession('a')[0]!.id;
    expect(one.got.at(-1)).toEqual([{ id, agentPort: 9901, client: 'a@ws' }]);
    w.installer.report('web', done(2));
    expect(w.intercepts.ofSession('a')[0]!.state).toBe('installing'); // one agent for two pods
    const stale = w.agent('web', 'old-hash', 'web-old');
    expect(w.intercepts.ofSession('a')[0]!.state).toBe('installing');
    const two = w.agent('web', hash, 'web-2');
    const active = w.intercepts.ofSession('a')[0]!;
    expect(active).toMatchObject({ state: 'active', environment: { DB: 'x' } });
    expect(two.got.at(-1)).toEqual([{ id: active.id, agentPort: 9901, client: 'a@ws' }]);
    expect(one.got.at(-1)).toEqual(two.got.at(-1));
    expect(stale.got.at(-1)).toEqual([]); // an agent of another config never gets it
    expect(w.intercepts.activeFor(active.id, { namespace: 'default', kind: 'Deployment', name: 'web' })).toBeDefined();
    expect(w.intercepts.activeFor(active.id, { namespace: 'default', kind: 'StatefulSet', name: 'db' })).toBeUndefined();
    expect(w.intercepts.list()[0]!.environment).toBeUndefined(); // only the owner sees the environment

    // The session goes (lease expired): its agents are told at once, the agent stays installed.
    w.end('a');
    expect(two.got.at(-1)).toEqual([]);
    expect(w.intercepts.list()).toEqual([]);
    expect(w.installer.calls.filter((c) => c.startsWith('remove'))).toEqual([]);
  });

  it('reports what the user got wrong: unknown workload, no Service, no such port, names and ports taken', async () => {
    const w = world();
    w.session('a', [spec('x', 'nope'), spec('y', 'lonely'), spec('z', 'web', { port: 81 }), spec('web-default', 'web')]);
    await tick();
    const by = Object.fromEntries(w.intercepts.ofSession('a').map((i) => [i.spec.name, i]));
    expect(by.x).toMatchObject({ state: 'failed', code: 'no-workload' });
    expect(by.y).toMatchObject({ state: 'failed', code: 'not-interceptable', message: expect.stringContaining('no Service selects its pods') });
    expect(by.z).toMatchObject({ state: 'failed', code: 'no-port', message: expect.stringContaining('no Service port 81') });
    // A pod the agent can't be added to: refused before anything rolls.
    const taken = template('taken', 8080, 'http');
    taken.spec!.containers[0]!.ports!.push({ containerPort: 9090, name: 'tel-http' });
    w.installer.add({ namespace: 'default', kind: 'Deployment', name: 'taken' }, taken);
    w.installer.services.push(service('taken', 80, 'http'));
    w.session('t', [spec('t', 'taken')]);
    await tick();
    expect(w.intercepts.ofSession('t')[0]).toMatchObject({ state: 'failed', code: 'not-interceptable', message: expect.stringContaining('tel-http') });
    expect(w.installer.calls.some((c) => c.startsWith('ensure taken'))).toBe(false);
    // Names are per session (2.x: session:name); the port is what two sessions can clash on.
    w.session('b', [spec('web-default', 'db'), spec('web2', 'web')]);
    await tick();
    const b = Object.fromEntries(w.intercepts.ofSession('b').map((i) => [i.spec.name, i]));
    expect(b['web-default']).toMatchObject({ state: 'installing' });
    expect(b.web2).toMatchObject({ state: 'failed', code: 'port-taken', message: expect.stringContaining('a@ws (web-default)') });
  });

  it('lets several sessions share a port with personal intercepts, and keeps global ones exclusive', async () => {
    const w = world();
    const alice = { filter: { headers: ['x-dev=alice'] } };
    w.session('a', [spec('web', 'web', alice)]);
    w.session('b', [spec('web', 'web', { filter: { headers: ['x-dev=bob'] } })]);
    await tick();
    expect(w.intercepts.ofSession('a')[0]).toMatchObject({ state: 'installing' });
    expect(w.intercepts.ofSession('b')[0]).toMatchObject({ state: 'installing' });
    const hash = w.installer.calls.find((c) => c.startsWith('ensure web'))!.split(' ')[2]!;
    const agent = w.agent('web', hash, 'web-1');
    const sent = agent.got.at(-1)!;
    expect(sent.map((i) => i.filter)).toEqual([{ headers: ['x-dev=alice'] }, { headers: ['x-dev=bob'] }]);
    expect(new Set(sent.map((i) => i.agentPort)).size).toBe(1);

    // A global intercept on that port, and the same filter again, are refused naming the owners.
    w.session('c', [spec('all', 'web'), spec('dup', 'web', { ...alice, localPort: 3001 })]);
    await tick();
    const c = Object.fromEntries(w.intercepts.ofSession('c').map((i) => [i.spec.name, i]));
    expect(c.all).toMatchObject({ state: 'failed', code: 'port-taken', message: expect.stringMatching(/personal intercepts by a@ws \(web\), b@ws \(web\)/), hint: expect.stringContaining('--http-header') });
    expect(c.dup).toMatchObject({ state: 'failed', code: 'port-taken', message: expect.stringContaining('same filter, by a@ws (web)') });

    // One leaves: the other keeps its route; with both gone, a global one takes the port, and then a personal one is refused.
    w.end('a');
    expect(agent.got.at(-1)!.map((i) => i.client)).toEqual(['b@ws']);
    w.end('b');
    w.end('c'); // its client drops what failed from its desired state
    w.session('c', [spec('all', 'web')]);
    w.session('d', [spec('mine', 'web', alice)]);
    await tick();
    expect(w.intercepts.ofSession('c')[0]).toMatchObject({ state: 'installing' });
    expect(w.intercepts.ofSession('d')[0]).toMatchObject({ state: 'failed', code: 'port-taken', message: expect.stringContaining('c@ws (all) for all its traffic') });
  });

  it('refuses a filter on a port declared not to carry HTTP', async () => {
    const w = world();
    w.installer.add({ namespace: 'default', kind: 'Deployment', name: 'tls' }, template('tls', 8443));
    w.installer.services.push({ metadata: { name: 'tls', namespace: 'default' }, spec: { selector: { app: 'tls' }, ports: [{ name: 'https', port: 443, targetPort: 8443 as never }] } });
    w.session('a', [spec('tls', 'tls', { filter: { pathPrefix: '/api' } })]);
    await tick();
    expect(w.intercepts.ofSession('a')[0]).toMatchObject({ state: 'failed', code: 'not-http', message: expect.stringContaining('tls:https can\'t take an HTTP filter: its name https says https') });
    expect(w.installer.calls.some((c) => c.startsWith('ensure tls'))).toBe(false);
  });

  it('does not replace an agent of another config while someone else intercepts through it', async () => {
    const w = world();
    const tpl = template('two', 8080);
    tpl.spec!.containers[0]!.ports!.push({ containerPort: 9090 });
    w.installer.add({ namespace: 'default', kind: 'Deployment', name: 'two' }, tpl);
    w.installer.services.push({ metadata: { name: 'two', namespace: 'default' }, spec: { selector: { app: 'two' }, ports: [{ name: 'web', port: 80, targetPort: 8080 as never }, { name: 'admin', port: 90, targetPort: 9090 as never }] } });
    w.session('a', [spec('two-a', 'two', { port: 'web' })]);
    await tick();
    expect(w.intercepts.ofSession('a')[0]).toMatchObject({ state: 'installing', servicePort: 80 });
    w.installer.image = 'registry/tel2:v2'; // a client of another version: another agent config
    w.session('c', [spec('two-c', 'two', { port: 'admin' })]);
    await tick();
    expect(w.intercepts.ofSession('c')[0]).toMatchObject({ state: 'failed', code: 'agent-version-in-use', message: expect.stringContaining('a@ws (two-a)') });
    w.end('a');
    w.session('c', [spec('two-c2', 'two', { port: 'admin' })]);
    await tick();
    expect(w.intercepts.ofSession('c')[0]).toMatchObject({ state: 'installing', servicePort: 90 });
    expect(w.installer.calls.filter((c) => c.startsWith('ensure two')).length).toBe(2);
  });

  it('uninstall is refused while another session intercepts the workload, and removes the agent otherwise', async () => {
    const w = world();
    w.session('a', [spec('web-a', 'web')]);
    await tick();
    const ref = { namespace: 'default', kind: 'Deployment' as const, name: 'web' };
    await expect(w.intercepts.uninstall('b', [ref])).rejects.toThrow(/intercepted by a@ws \(web-a\)/);
    expect(await w.intercepts.uninstall('a', [ref])).toEqual([ref]);
    expect(w.intercepts.ofSession('a')).toEqual([]);
    expect(w.installer.calls).toContain('remove web');
  });

  it('an intercept that rolled the agent in and never became active takes it out again; an active one leaves it', async () => {
    const w = world();
    w.session('a', [spec('web-a', 'web')]);
    await tick();
    w.installer.report('web', { podsWanted: 2, podsReady: 0, done: false, message: 'x', failure: { code: 'image-pull', message: 'pod web-1 cannot pull image r/tel2:v1', hint: 'h' } });
    await tick();
    expect(w.intercepts.ofSession('a')[0]).toMatchObject({ state: 'failed', code: 'image-pull' });
    expect(w.installer.calls.filter((c) => c === 'remove web')).toHaveLength(1);

    // Abandoned while installing (the client gave up): taken out again.
    w.session('b', [spec('db-b', 'db')]);
    await tick();
    w.session('b', []);
    await tick();
    expect(w.installer.calls.filter((c) => c === 'remove db')).toHaveLength(1);

    // Active, then left: the agent stays for the next intercept.
    w.session('c', [spec('db-c', 'db')]);
    await tick();
    const hash = w.installer.calls.filter((c) => c.startsWith('watch db')).at(-1)!.split(' ')[2]!;
    w.installer.report('db', done(1));
    w.agent('db', hash, 'db-0', 'StatefulSet');
    expect(w.intercepts.ofSession('c')[0]!.state).toBe('active');
    w.session('c', []);
    await tick();
    expect(w.installer.calls.filter((c) => c === 'remove db')).toHaveLength(1);
  });

  it('after a rollout, waits for kube-proxy to apply the endpoint change, old pods gone or not (kube-proxy lags behind the endpoints)', async () => {
    const w = world();
    w.session('a', [spec('db-a', 'db')]);
    await tick();
    const hash = w.installer.calls.find((c) => c.startsWith('watch db'))!.split(' ')[2]!;
    w.installer.report('db', { podsWanted: 1, podsReady: 0, done: false, message: 'rolling' });
    w.agent('db', hash, 'db-0', 'StatefulSet');
    w.installer.report('db', { ...done(1), oldTerminating: 1 });
    expect(w.intercepts.ofSession('a')[0]).toMatchObject({ state: 'installing', message: 'done, old pods terminating, waiting for kube-proxy' });
    // The old pod is gone: that says nothing about kube-proxy, the wait goes on.
    w.installer.report('db', done(1));
    expect(w.intercepts.ofSession('a')[0]!.state).toBe('installing');
    await new Promise((r) => setTimeout(r, 1_600));
    expect(w.intercepts.ofSession('a')[0]!.state).toBe('active');
    expect(w.intercepts.ofSession('a')[0]!.state).toBe('active');
  });
});
