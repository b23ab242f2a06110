// Tests' workstation user: a home, XDG runtime/cache/config dirs and the root daemon's run dir,
// all under one temp dir, so daemons started by a test never touch the real user's files.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface UserDirs {
  HOME: string;
  XDG_RUNTIME_DIR: string;
  XDG_CACHE_HOME: string;
  XDG_CONFIG_HOME: string;
  TELEPRESENCE_ROOT_RUN_DIR: string;
}

/** Creates the dirs under `dir` (0700, as a runtime dir must be) and returns them as env entries. */
export function userDirs(dir: string): UserDirs {
  const dirs: UserDirs = {
    HOME: join(dir, 'home'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CACHE_HOME: join(dir, 'cache'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    TELEPRESENCE_ROOT_RUN_DIR: join(dir, 'rootrun'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o700 });
  return dirs;
}
