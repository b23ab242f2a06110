// Timeouts of the user daemon's cluster calls. Every timeout error names the config.yml key that
// bounds it, so the user can act (the 2.x messages users already search for).
import { TelError } from '@tel/errors';

export type TimeoutKey = 'trafficManagerConnect' | 'trafficManagerAPI' | 'agentInstall';

/** Bound on installing or upgrading the manager (2.x: timeouts.helm). */
export const INSTALL_TIMEOUT_MS = 120_000;
/** Bound on the root daemon creating tel0, routes and rules. */
export const ROOT_NETWORK_TIMEOUT_MS = 60_000;

/** `60s`, `90s`, `500ms`: the units 2.x messages use, and a form config.yml accepts back. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return Number.isInteger(ms / 1000) ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

export function timeoutError(key: TimeoutKey, ms: number, configFile: string, detail = ''): TelError {
  const what = { trafficManagerConnect: 'the port-forward connection to the traffic manager', trafficManagerAPI: 'the traffic manager API', agentInstall: 'installing the traffic agent' }[key];
  const suffix = detail ? ` (${detail})` : '';
  return new TelError('cluster', `${what} timed out after ${formatDuration(ms)}${suffix}`, `raise timeouts.${key} in ${configFile}`);
}

/** Resolve with `p`, or reject with `onTimeout()` after `ms`; `cancel` runs when the timer wins. */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error, cancel?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cancel?.();
      reject(onTimeout());
    }, ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
