import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProgress, formatElapsed } from './progress.js';

const SCRIPTS = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'scripts');

afterEach(() => vi.useRealTimers());

describe('progress of long work', () => {
  it('in a log: each message once, counts at most every 30 s, and a "still" line after 30 s of silence; no escape codes', () => {
    vi.useFakeTimers();
    let t = 0;
    const out: string[] = [];
    const p = createProgress({ write: (s) => out.push(s), live: false, prefix: '[tc] ', now: () => t });
    p.log('building kubernetes', { build: true });
    p.log('', { build: true, count: { done: 20, total: 200, what: 'kubernetes' } }); // too soon: not printed
    t = 31_000;
    p.log('', { build: true, count: { done: 120, total: 200, what: 'kubernetes' } });
    t = 62_000;
    vi.advanceTimersByTime(5_000);
    p.stop();
    expect(out).toEqual(['[tc] building kubernetes\n', '[tc] kubernetes: 120/200 packages (60%), 31s\n', '[tc] still kubernetes: 120/200 packages (60%), 1m02s\n']);
    expect(out.join('')).not.toContain('\x1b');
  });

  it('on a terminal: messages above one live line that says how far and how long', () => {
    let t = 0;
    const out: string[] = [];
    const p = createProgress({ write: (s) => out.push(s), live: true, now: () => t });
    p.log('building kubernetes');
    t = 75_000;
    p.log('', { count: { done: 1999, total: 2000, what: 'kubernetes' } });
    p.stop();
    expect(out).toEqual(['building kubernetes\n', '\r\x1b[Kkubernetes: 1999/2000 packages (99%) … 1m15s', '\r\x1b[K']);
  });

  it('buildOnly (tests) shows the cold build and nothing else', () => {
    const out: string[] = [];
    const p = createProgress({ write: (s) => out.push(s), live: false, buildOnly: true });
    p.log('kube-apiserver ready (3.3s)');
    p.log('building kubernetes', { build: true });
    p.stop();
    expect(out).toEqual(['building kubernetes\n']);
  });

  it('formats elapsed time', () => {
    expect([formatElapsed(999), formatElapsed(59_000), formatElapsed(61_000), formatElapsed(3_600_000)]).toEqual(['0s', '59s', '1m01s', '60m00s']);
  });

  it("the build scripts' filter passes go build -v lines through and adds a count every 20 packages", () => {
    const out = execFileSync('bash', ['-c', `set -euo pipefail; . ${SCRIPTS}/progress.sh; seq 45 | progress_filter 100 kubernetes`], { encoding: 'utf8' });
    const lines = out.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('[progress]'))).toEqual(['[progress] 20 100 kubernetes', '[progress] 40 100 kubernetes']);
    expect(lines.filter((l) => !l.startsWith('[progress]'))).toHaveLength(45);
  });
});
