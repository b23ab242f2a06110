// Locates the workspace root (the directory holding nx.json) from this file or the cwd.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export function workspaceRoot(start = process.cwd()): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) return resolve(start);
  }
}
