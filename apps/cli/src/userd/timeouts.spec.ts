import { describe, expect, it } from 'vitest';
import { formatError } from '@tel/errors';
import { formatDuration, timeoutError, withTimeout } from './timeouts.js';

describe('timeout messages name the config key to raise', () => {
  it.each([
    ['trafficManagerConnect', 60_000, '', 'the port-forward connection to the traffic manager timed out after 60s; raise timeouts.trafficManagerConnect in /home/u/.config/telepresence/config.yml'],
    ['trafficManagerAPI', 15_000, 'GET /cluster-info', 'the traffic manager API timed out after 15s (GET /cluster-info); raise timeouts.trafficManagerAPI in /home/u/.config/telepresence/config.yml'],
    ['trafficManagerConnect', 90_000, '', 'the port-forward connection to the traffic manager timed out after 90s; raise timeouts.trafficManagerConnect in /home/u/.config/telepresence/config.yml'],
  ] as const)('%s after %d ms', (key, ms, detail, text) => {
    const err = timeoutError(key, ms, '/home/u/.config/telepresence/config.yml', detail);
    expect(err.category).toBe('cluster');
    expect(formatError(err.toInfo())).toBe(text);
  });

  it.each([
    [500, '500ms'],
    [1000, '1s'],
    [60_000, '60s'],
    [1500, '1.5s'],
  ])('formatDuration(%d) = %s (a value config.yml accepts back)', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('withTimeout rejects with the given error and cancels; passes results through otherwise', async () => {
    let cancelled = false;
    await expect(withTimeout(new Promise(() => undefined), 20, () => new Error('late'), () => (cancelled = true))).rejects.toThrow('late');
    expect(cancelled).toBe(true);
    await expect(withTimeout(Promise.resolve(7), 1000, () => new Error('late'))).resolves.toBe(7);
  });
});
