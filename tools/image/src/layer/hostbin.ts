// Collects a host binary and everything its dynamic loader needs (ldd's list) as layer entries at their
// absolute paths: how a runtime base image (e.g. Node) is made from the workstation without any base image.
import { execFileSync } from 'node:child_process';
import { lstatSync, readlinkSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ImageError } from '../errors.js';
import type { LayerEntry } from './entries.js';

export interface HostBinaryOptions {
  /** Extra host files or directories to include as-is (e.g. /etc/ssl/certs/ca-certificates.crt); missing ones are skipped. */
  extraFiles?: string[];
  /** Injected for tests; default runs `ldd`. */
  ldd?: (binary: string) => string;
}

/** Parses ldd output: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x..)" and "/lib64/ld-linux-x86-64.so.2 (0x..)". */
export function parseLdd(output: string): string[] {
  const out: string[] = [];
  for (const line of output.split('\n')) {
    const arrow = /=>\s*(\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+)\s+\(0x/.exec(line);
    const p = arrow?.[1] ?? bare?.[1];
    if (p) out.push(p);
  }
  return out;
}

function runLdd(binary: string): string {
  try {
    return execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stdout = (err as { stdout?: string }).stdout ?? '';
    // ldd exits 1 with "not a dynamic executable" for static binaries: nothing to add then.
    if (/not a dynamic executable|statically linked/.test(`${stdout}${(err as { stderr?: string }).stderr ?? ''}`)) return '';
    throw new ImageError(`cannot run ldd on ${binary}`, 'install libc-bin (it provides ldd) or pass a static binary', { code: 'HOST_FILE', cause: err });
  }
}

/**
 * Adds `p` as the host sees it: each symlink met on the way (e.g. /lib -> usr/lib on merged-/usr systems,
 * libfoo.so.1 -> libfoo.so.1.2) becomes a symlink entry, and the real file lands at its real path.
 */
function addHostPath(p: string, out: Map<string, LayerEntry>, depth = 0): void {
  if (depth > 40) throw new ImageError(`too many symlinks resolving ${p}`, 'fix the symlink loop on the host', { code: 'HOST_FILE' });
  const parts = path.resolve(p).split('/').filter(Boolean);
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = path.posix.join(cur, parts[i]!);
    const st = lstatSync(next);
    if (st.isSymbolicLink()) {
      const target = readlinkSync(next);
      out.set(next, { path: next, type: 'symlink', linkTarget: target });
      const resolved = path.posix.resolve(cur, target, ...parts.slice(i + 1));
      addHostPath(resolved, out, depth + 1);
      return;
    }
    if (i === parts.length - 1) {
      if (st.isDirectory()) out.set(next, { path: next, sourcePath: next });
      else out.set(next, { path: next, sourcePath: next, mode: st.mode & 0o7777 });
    }
    cur = next;
  }
}

/** A binary plus every library `ldd` lists (and the dynamic loader), at their absolute host paths. */
export function hostBinaryEntries(binaries: string[], opts: HostBinaryOptions = {}): LayerEntry[] {
  const out = new Map<string, LayerEntry>();
  const ldd = opts.ldd ?? runLdd;
  for (const bin of binaries) {
    if (!existsSync(bin)) throw new ImageError(`host binary ${bin} does not exist`, 'install it or pass the right path', { code: 'HOST_FILE' });
    addHostPath(bin, out);
    for (const lib of parseLdd(ldd(bin))) addHostPath(lib, out);
  }
  for (const extra of opts.extraFiles ?? []) {
    if (existsSync(extra)) {
      if (statSync(extra).isDirectory()) out.set(extra, { path: extra, sourcePath: extra });
      else addHostPath(extra, out);
    }
  }
  return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
