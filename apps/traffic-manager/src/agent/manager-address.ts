// The manager's address for the agent's data connections, resolved once and then refreshed in the
// background: a name lookup per intercepted connection would cost a CoreDNS round trip each, and
// the A/AAAA race in conntrack that Kubernetes DNS is known for turns some of them into 5 s
// stalls. The Service's ClusterIP does not change while it exists.
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { Logger } from '@tel/logging';

const REFRESH_MS = 30_000;

export interface ManagerAddress {
  /** The IP to dial (the name itself until the first lookup answered). */
  get(): string;
  /** Looks the name up now (after the control connection was lost: the Service may be new). */
  refresh(): Promise<void>;
  stop(): void;
}

export function managerAddress(host: string, log: Logger): ManagerAddress {
  if (net.isIP(host)) return { get: () => host, refresh: async () => undefined, stop: () => undefined };
  let current = host;
  const refresh = async () => {
    try {
      const { address } = await lookup(host, { family: 4 });
      if (address !== current) log.debug('traffic manager address', { host, address });
      current = address;
    } catch (err) {
      log.debug('cannot resolve the traffic manager; dialling by name', { host, error: err instanceof Error ? err.message : String(err) });
    }
  };
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  timer.unref();
  void refresh();
  return { get: () => current, refresh, stop: () => clearInterval(timer) };
}
