// Kernel-wide sysctls the kubelet rewrites (protectKernelDefaults=false): recorded before the
// first kubelet of any instance starts, restored when the last instance goes down. The record
// lives in the cache root and survives a crashed `up`, so the values restored are always the ones
// from before any cluster existed.
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const KUBELET_SYSCTLS = [
  'kernel/panic',
  'kernel/panic_on_oops',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
] as const;

const recordFile = (dir: string) => join(dir, 'sysctls.json');

export function recordSysctls(dir: string): void {
  const file = recordFile(dir);
  if (existsSync(file)) return; // an earlier, unfinished `up` already holds the true originals
  // A running instance of an older version kept its record in its state dir: adopt it.
  const legacy = readdirSync(dir)
    .filter((d) => d.startsWith('state'))
    .map((d) => recordFile(join(dir, d)))
    .find((f) => existsSync(f));
  if (legacy) {
    copyFileSync(legacy, file);
    return;
  }
  const values: Record<string, string> = {};
  for (const k of KUBELET_SYSCTLS) {
    try {
      values[k] = readFileSync(`/proc/sys/${k}`, 'utf8').trim();
    } catch {
      /* not on this kernel */
    }
  }
  writeFileSync(file, JSON.stringify(values, null, 2) + '\n');
}

/** Restores the recorded values (from `dir`, or where older versions kept them); returns what changed. */
export function restoreSysctls(dir: string, legacyDir?: string): string[] {
  const file = [recordFile(dir), ...(legacyDir ? [recordFile(legacyDir)] : [])].find((f) => existsSync(f));
  if (!file) return [];
  const values = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const changed: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    const now = readFileSync(`/proc/sys/${k}`, 'utf8').trim();
    if (now !== v) {
      writeFileSync(`/proc/sys/${k}`, v);
      changed.push(`${k.replace(/\//g, '.')}: ${now} -> ${v}`);
    }
  }
  rmSync(file);
  return changed;
}
