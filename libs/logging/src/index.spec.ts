// The one logger's two sinks: a file per process, or a stream (the cluster image's roles on stdout).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { buildVersion } from '@tel/version';
import { createLogger, levelFrom2x, parseLevel } from './index.js';

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\w+)\s+(\S+) \[([^\]]+)\] (.*)$/;

describe('createLogger', () => {
  it('with a stream: one line per event, same shape as the files, levels honoured', () => {
    const lines: string[] = [];
    const log = createLogger('manager', { level: 'info', stream: { write: (l: string) => lines.push(l) } });
    log.debug('hidden');
    log.child('sessions').info('client arrived', { sessionId: 'x' });
    log.setLevel('debug');
    log.debug('shown');
    expect(log.file).toBeUndefined();
    expect(lines.map((l) => LINE.exec(l.trimEnd())?.slice(1))).toEqual([
      ['INFO', buildVersion, 'manager/sessions', 'client arrived {"sessionId":"x"}'],
      ['DEBUG', buildVersion, 'manager', 'shown'],
    ]);
  });

  it('with a name: appends to <dir>/<name>.log', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tel-log-'));
    try {
      const log = createLogger('connector', { dir });
      log.warn('careful');
      expect(log.file).toBe(join(dir, 'connector.log'));
      expect(LINE.exec(readFileSync(log.file!, 'utf8').trimEnd())?.slice(1)).toEqual(['WARN', buildVersion, 'connector', 'careful']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parseLevel: a level name, else the fallback', () => {
    expect(parseLevel('debug')).toBe('debug');
    expect(parseLevel(undefined)).toBe('info');
    expect(parseLevel('loud', 'warn')).toBe('warn');
  });
});

describe('levels at run time', () => {
  it('a level set for a while goes back to the configured one; a later call replaces the timer', () => {
    vi.useFakeTimers();
    try {
      const lines: string[] = [];
      const log = createLogger('connector', { level: 'info', stream: { write: (l: string) => lines.push(l) } });
      log.setLevel('debug', 1000);
      log.debug('while raised');
      expect(log.level).toBe('debug');
      vi.advanceTimersByTime(999);
      expect(log.level).toBe('debug');
      vi.advanceTimersByTime(1);
      expect(log.level).toBe('info');
      log.debug('after');
      log.setLevel('trace', 1000);
      log.setLevel('error');
      vi.advanceTimersByTime(5000);
      // The second call had no duration: it stays until changed, the first one's timer is gone.
      expect(log.level).toBe('error');
      expect(lines.map((l) => l.includes('while raised'))).toEqual([true]);
    } finally {
      vi.useRealTimers();
    }
  });

  it.each([
    ['warning', 'warn'],
    ['WARN', 'warn'],
    ['trace', 'trace'],
    ['Error', 'error'],
    ['fatal', undefined],
    ['', undefined],
  ])('2.x level name %j means %j', (name, level) => {
    expect(levelFrom2x(name)).toBe(level);
  });
});
