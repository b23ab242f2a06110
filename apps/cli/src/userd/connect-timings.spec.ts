// StepClock: each step's start and end relative to the connect's arrival, overlapping steps kept
// apart, a failed step not recorded.
import { describe, expect, it } from 'vitest';
import { StepClock } from './connect-timings.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('StepClock', () => {
  it('records steps in the order they end, side-by-side steps overlapping, relative to the arrival', async () => {
    const receivedAt = Date.now() - 5;
    const clock = new StepClock(receivedAt);
    expect(clock.timeSync('kubeconfig', () => 42)).toBe(42);
    await Promise.all([clock.time('port-forward', () => sleep(40)), clock.time('tcp-listener', () => sleep(5))]);
    await expect(clock.time('routes', () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    const t = clock.timings();
    expect(t.receivedAt).toBe(receivedAt);
    expect(t.daemonStartedAt).toBeLessThanOrEqual(receivedAt);
    expect(t.steps.map((s) => s.step)).toEqual(['kubeconfig', 'tcp-listener', 'port-forward']);
    const [kube, listener, forward] = t.steps;
    expect(kube!.startMs).toBeGreaterThanOrEqual(5);
    expect(Math.abs(listener!.startMs - forward!.startMs)).toBeLessThanOrEqual(1);
    expect(forward!.endMs - forward!.startMs).toBeGreaterThanOrEqual(35);
    expect(listener!.endMs).toBeLessThan(forward!.endMs);
  });
});
