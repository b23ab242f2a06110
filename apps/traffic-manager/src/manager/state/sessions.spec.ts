// The session store's rules with real timers and short leases: arrive, remain, depart, expiry,
// the watch's events, and the lease setting's grammar.
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import type { SessionsEvent } from '@tel/contracts';
import { DEFAULT_SESSION_LEASE_MS, SessionStore, sessionLeaseMs } from './sessions.js';

const log = createLogger(undefined);
const client = { user: 'dev', host: 'ws', version: 'v2.90.0' };
const desired = { intercepts: [] };
const stores: SessionStore[] = [];
const store = (leaseMs: number) => {
  const s = new SessionStore(leaseMs, log);
  stores.push(s);
  return s;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
afterEach(() => stores.splice(0).forEach((s) => s.close()));

describe('SessionStore', () => {
  it('arrive gives a fresh id and the lease; remain renews it; depart ends it', () => {
    const s = store(1000);
    const a = s.arrive({ client, desired });
    const b = s.arrive({ client, desired });
    expect(a.leaseMs).toBe(1000);
    expect(a.sessionId).not.toBe(b.sessionId);
    expect(s.remain(a.sessionId)).toEqual(a);
    s.depart(a.sessionId);
    s.depart(a.sessionId); // twice is fine
    expect(s.list().map((x) => x.sessionId)).toEqual([b.sessionId]);
  });

  it('an unknown or departed session is refused with code unknown-session', () => {
    const s = store(1000);
    expect(() => s.remain('nope')).toThrow(expect.objectContaining({ code: 'unknown-session', message: 'the traffic manager has no session "nope"' }));
    expect(() => s.setDesired(42, desired)).toThrow(expect.objectContaining({ code: 'unknown-session' }));
  });

  it('a session without heartbeats expires after its lease; one that remains does not', async () => {
    const s = store(300);
    const idle = s.arrive({ client, desired });
    const alive = s.arrive({ client, desired });
    for (let i = 0; i < 5; i++) {
      await sleep(100);
      s.remain(alive.sessionId);
    }
    expect(s.list().map((x) => x.sessionId)).toEqual([alive.sessionId]);
    expect(() => s.remain(idle.sessionId)).toThrow(expect.objectContaining({ code: 'unknown-session' }));
  });

  it('watch sends the current list, then the list after each change, until aborted', async () => {
    const s = store(200);
    const a = s.arrive({ client, desired });
    const events: SessionsEvent[] = [];
    const abort = new AbortController();
    s.watch((e) => events.push(e), abort.signal);
    const b = s.arrive({ client: { ...client, user: 'other' }, desired });
    s.setDesired(b.sessionId, { intercepts: [{ name: 'web', namespace: 'default', workload: 'web', localPort: 8080 }] });
    s.depart(a.sessionId);
    await sleep(350); // b expires
    abort.abort();
    s.arrive({ client, desired }); // not seen
    expect(events.map((e) => [e.reason, e.sessions.length])).toEqual([
      ['snapshot', 1],
      ['arrived', 2],
      ['updated', 2],
      ['departed', 1],
      ['expired', 0],
    ]);
    expect(events[2]!.sessions.find((x) => x.sessionId === b.sessionId)?.desired).toEqual({ intercepts: [{ name: 'web', namespace: 'default', workload: 'web', localPort: 8080 }] });
  });

  it('refuses malformed arrivals', () => {
    const s = store(1000);
    expect(() => s.arrive({ client: { user: 'x' }, desired } as never)).toThrow(expect.objectContaining({ code: 'bad-request', message: 'arrive needs client {user, host, version}' }));
    expect(() => s.arrive({ client, desired: { intercepts: 'x' } } as never)).toThrow(expect.objectContaining({ code: 'bad-request' }));
  });

  it('keeps a personal intercept’s filter as given, and refuses one the parser refuses (a user error) or of the wrong shape', () => {
    const s = store(1000);
    const spec = (filter: unknown) => ({ intercepts: [{ name: 'web', namespace: 'default', workload: 'web', localPort: 3000, filter: filter as never }] });
    const { sessionId } = s.arrive({ client, desired: spec({ headers: ['x-dev=alice'], pathPrefix: '/api', extra: 1 }) });
    expect(s.list()[0]!.desired.intercepts[0]!.filter).toEqual({ headers: ['x-dev=alice'], pathPrefix: '/api' });
    expect(sessionId).toBeTruthy();
    expect(() => s.arrive({ client, desired: spec({ headers: ['x-dev=(a'] }) })).toThrow(expect.objectContaining({ code: 'bad-request', category: 'user', message: expect.stringMatching(/^intercept web: --http-header "x-dev=\(a": .*Unterminated group/) }));
    expect(() => s.arrive({ client, desired: spec({}) })).toThrow(expect.objectContaining({ category: 'user', message: expect.stringContaining('a personal intercept needs a filter') }));
    expect(() => s.arrive({ client, desired: spec({ headers: 'x-dev=a' }) })).toThrow(expect.objectContaining({ category: 'bug', message: expect.stringContaining('filter is not') }));
  });
});

describe('sessionLeaseMs (CLIENT_CONNECTION_TTL)', () => {
  it.each([
    [undefined, DEFAULT_SESSION_LEASE_MS],
    ['', DEFAULT_SESSION_LEASE_MS],
    ['15s', 15_000],
    ['1m30s', 90_000],
    ['2500ms', 2500],
    ['1.5s', 1500],
    ['20000', 20_000],
  ])('%j → %d ms', (v, ms) => expect(sessionLeaseMs(v === undefined ? {} : { CLIENT_CONNECTION_TTL: v })).toBe(ms));

  it.each([['15'], ['abc'], ['15 s'], ['s'], ['500ms'], ['-1s']])('%j is refused with a message naming the variable', (v) => {
    expect(() => sessionLeaseMs({ CLIENT_CONNECTION_TTL: v })).toThrow(/^CLIENT_CONNECTION_TTL=/);
  });
});
