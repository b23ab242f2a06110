// Adds up vitest's "Tests  N failed | N passed | N skipped" lines from a combined Nx log and prints
// one "Tests: N passed, N failed, N skipped" line, so CI sees a single total.
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2], 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
const total = { passed: 0, failed: 0, skipped: 0 };
for (const line of text.split('\n')) {
  const m = /^\S*:?\s*Tests\s+(.*)\(\d+\)\s*$/.exec(line.trim());
  if (!m) continue;
  for (const part of m[1].split('|')) {
    const p = /(\d+)\s+(passed|failed|skipped|todo)/.exec(part);
    if (p && p[2] in total) total[p[2]] += Number(p[1]);
  }
}
process.stdout.write(`Tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
