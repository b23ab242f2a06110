// Where each local contract is served. Part of the contract: both sides must agree on it.
import { join } from 'node:path';

/** User daemon socket, in the user's runtime dir (0700), so only the user (and root) reach it. */
export function userDaemonSocket(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.getuid?.() ?? 0;
  const runtime = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'telepresence') : `/tmp/telepresence-${uid}`;
  return join(runtime, 'connector.socket');
}

/** Root daemon socket: root-owned dir; the socket itself is chowned to the session's user. */
export function rootDaemonSocket(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.TELEPRESENCE_ROOT_RUN_DIR || '/var/run/telepresence', 'daemon.socket');
}
