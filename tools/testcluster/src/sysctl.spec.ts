import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { recordSysctls } from './sysctl.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'tptc-sysctl-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('sysctl record', () => {
  it('records the current values once and never overwrites the originals', () => {
    const d = tmp();
    recordSysctls(d);
    const first = JSON.parse(readFileSync(join(d, 'sysctls.json'), 'utf8'));
    expect(first['kernel/panic']).toBe(readFileSync('/proc/sys/kernel/panic', 'utf8').trim());
    writeFileSync(join(d, 'sysctls.json'), JSON.stringify({ 'kernel/panic': 'original' }));
    recordSysctls(d);
    expect(JSON.parse(readFileSync(join(d, 'sysctls.json'), 'utf8'))).toEqual({ 'kernel/panic': 'original' });
  });

  it("adopts the record a running older instance kept in its state dir", () => {
    const d = tmp();
    mkdirSync(join(d, 'state'));
    writeFileSync(join(d, 'state', 'sysctls.json'), JSON.stringify({ 'kernel/panic': 'from-legacy' }));
    recordSysctls(d);
    expect(JSON.parse(readFileSync(join(d, 'sysctls.json'), 'utf8'))).toEqual({ 'kernel/panic': 'from-legacy' });
  });
});
