// Adds up vitest's "Test Files …" and "Tests  N failed | N passed | N skipped" lines from a combined
// Nx log and prints one "Tests: N passed, N failed, N skipped" line, so CI sees a single total. A
// test file that failed to load has no failed test; it is counted as one failure.
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2], 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
const total = { passed: 0, failed: 0, skipped: 0 };
let failedFiles = 0;
const counts = (s) => {
  const c = { passed: 0, failed: 0, skipped: 0 };
  for (const part of s.split('|')) {
    const p = /(\d+)\s+(passed|failed|skipped|todo)/.exec(part);
    if (p && p[2] in c) c[p[2]] += Number(p[1]);
  }
  return c;
};
for (const raw of text.split('\n')) {
  const line = raw.replace(/^[\w@/-]+:\s/, '').trim();
  const files = /^Test Files\s+(.*)\(\d+\)$/.exec(line);
  if (files) {
    failedFiles = counts(files[1]).failed;
    continue;
  }
  const tests = /^Tests\s+(.*)\(\d+\)$/.exec(line);
  if (!tests) continue;
  const c = counts(tests[1]);
  total.passed += c.passed;
  total.skipped += c.skipped;
  total.failed += Math.max(c.failed, failedFiles);
  failedFiles = 0;
}
process.stdout.write(`Tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
