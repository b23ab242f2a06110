// Kernel-wide sysctls the kubelet rewrites (protectKernelDefaults=false): recorded before the
// kubelet first starts, restored by `down`. The record survives a crashed `up`, so the values
// restored are always the ones from before the cluster existed.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const KUBELET_SYSCTLS = [
  'kernel/panic',
  'kernel/panic_on_oops',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
] as const;

const recordFile = (stateDir: string) => join(stateDir, 'sysctls.json');

export function recordSysctls(stateDir: string): void {
  const file = recordFile(stateDir);
  if (existsSync(file)) return; // an earlier, unfinished `up` already holds the true originals
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

/** Restores the recorded values; returns the keys that had changed. */
export function restoreSysctls(stateDir: string): string[] {
  const file = recordFile(stateDir);
  if (!existsSync(file)) return [];
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
