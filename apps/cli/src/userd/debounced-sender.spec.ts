import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DnsNamespace } from '@tel/contracts';
import { DebouncedSender } from './debounced-sender.js';

describe('DebouncedSender', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const make = (send: (l: DnsNamespace[]) => Promise<void>, list: { v: DnsNamespace[] }) =>
    new DebouncedSender(() => list.v, send, { debounceMs: 200, maxDelayMs: 1_000, retryMs: 500 });

  it('a burst of changes becomes one send after the quiet time', async () => {
    const sent: DnsNamespace[][] = [];
    const list = { v: [{ name: 'a' }] };
    const s = make(async (l) => void sent.push(l), list);
    for (let i = 0; i < 5; i++) {
      list.v = [{ name: `n${i}` }];
      s.changed();
      await vi.advanceTimersByTimeAsync(50);
    }
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(sent).toEqual([[{ name: 'n4' }]]);
  });

  it('a change is sent within maxDelay even when changes never stop', async () => {
    const sentAt: number[] = [];
    const t0 = Date.now();
    let i = 0;
    const list = { v: [] as DnsNamespace[] };
    const s = make(async () => void sentAt.push(Date.now() - t0), list);
    for (let k = 0; k < 30; k++) {
      list.v = [{ name: `n${i++}` }];
      s.changed();
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(sentAt.length).toBeGreaterThanOrEqual(2);
    expect(sentAt[0]).toBeLessThanOrEqual(1_000);
    for (let k = 1; k < sentAt.length; k++) expect(sentAt[k]! - sentAt[k - 1]!).toBeLessThanOrEqual(1_100);
  });

  it('an unchanged list is not sent again; resend (flush(true)) sends it anyway', async () => {
    const send = vi.fn(async () => undefined);
    const list = { v: [{ name: 'a' }] };
    const s = make(send, list);
    s.changed();
    await vi.advanceTimersByTimeAsync(300);
    s.changed();
    await vi.advanceTimersByTimeAsync(300);
    expect(send).toHaveBeenCalledTimes(1);
    await s.flush(true);
    expect(send).toHaveBeenCalledTimes(2);
  });

  it('changes during a slow send are sent right after it, as the latest list', async () => {
    const sent: string[] = [];
    let release!: () => void;
    const list = { v: [{ name: 'a' }] };
    const s = make(
      (l) =>
        new Promise<void>((r) => {
          sent.push(l.map((n) => n.name).join());
          release = r;
        }),
      list,
    );
    s.changed();
    await vi.advanceTimersByTimeAsync(200);
    expect(sent).toEqual(['a']);
    list.v = [{ name: 'a' }, { name: 'b' }];
    s.changed();
    await vi.advanceTimersByTimeAsync(200);
    list.v = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];
    s.changed();
    await vi.advanceTimersByTimeAsync(200);
    expect(sent).toEqual(['a']);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual(['a', 'a,b,c']);
    release();
  });

  it('a failed send is retried', async () => {
    let fail = true;
    const sent: DnsNamespace[][] = [];
    const errors: unknown[] = [];
    const s = new DebouncedSender(
      () => [{ name: 'a' }],
      async (l) => {
        if (fail) throw new Error('root daemon restarting');
        sent.push(l);
      },
      { debounceMs: 200, maxDelayMs: 1_000, retryMs: 500, onError: (e) => errors.push(e) },
    );
    s.changed();
    await vi.advanceTimersByTimeAsync(200);
    expect(errors).toHaveLength(1);
    fail = false;
    await vi.advanceTimersByTimeAsync(500);
    expect(sent).toEqual([[{ name: 'a' }]]);
  });

  it('stop cancels a pending send', async () => {
    const send = vi.fn(async () => undefined);
    const s = make(send, { v: [{ name: 'a' }] });
    s.changed();
    s.stop();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(send).not.toHaveBeenCalled();
  });
});
