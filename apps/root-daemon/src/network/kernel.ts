// The kernel half of connecting the network: tel0, its routes and the fwmark rule (one `ip -batch`)
// beside the nftables table (one `nft`) and DNS (which binds tel0's address once it is there).
// All or nothing: a failure undoes whatever of it was done. Boundary: root daemon → Linux kernel.
import type { Cidr } from '@tel/cidr';
import type { Logger } from '@tel/logging';
import type { DnsSession } from '../dns/session.js';
import { TUN_NAME, configureLink, installRedirects, removeAll, type Runner } from '../routing/linux.js';
import { closeFd, openTun } from '../sys/libc.js';

export interface KernelPlan {
  tunAddress: string;
  routes: Cidr[];
  /** Where the redirects point: proxies that already listen. */
  tcpPort: number;
  udpPort: number;
}

export interface DnsStart {
  dns?: DnsSession;
  /** Why DNS was configured but isn't running (not a failure of the network). */
  dnsError?: string;
}

export interface Installed extends DnsStart {
  /** tel0 exists while this fd is open. */
  tunFd: number;
}

export interface InstallOptions {
  /** Starts the resolver, which waits for `tunReady` before it uses tel0; never rejects (a failure is `dnsError`). */
  startDns?: (tunReady: Promise<void>) => Promise<DnsStart>;
  log: Logger;
  /** Called as each part is done (the `network connected` line's timings). */
  mark?: (step: 'link' | 'redirects' | 'dns') => void;
}

/**
 * 1. Open tel0 (a TUN nobody holds has NO-CARRIER and vanishes). 2. Address, routes and rule (ip)
 * and the redirect table (nft) side by side: separate kernel objects, and the proxies they point
 * at listen already. 3. DNS from the start: it picks its mode and connects to resolved meanwhile,
 * and uses tel0 (binds its address, tells resolved) once it has it. Every object is created with
 * fail-if-exists semantics, so a leftover makes this fail rather than be doubled. On failure it
 * waits until the other parts have settled, then undoes all of them and rethrows the first error.
 */
export async function installKernel(run: Runner, plan: KernelPlan, opts: InstallOptions): Promise<Installed> {
  const tunFd = openTun(TUN_NAME);
  const link = configureLink(run, { address: plan.tunAddress, routes: plan.routes });
  const redirects = installRedirects(run, { routes: plan.routes, tcpPort: plan.tcpPort, udpPort: plan.udpPort });
  const dns: Promise<DnsStart> = opts.startDns ? opts.startDns(link) : Promise.resolve({});
  const [linked, redirected, dnsStarted] = await Promise.allSettled([
    link.then(() => opts.mark?.('link')),
    redirects.then(() => opts.mark?.('redirects')),
    dns.then((d) => (opts.mark?.('dns'), d)),
  ]);
  if (linked.status === 'fulfilled' && redirected.status === 'fulfilled' && dnsStarted.status === 'fulfilled') return { tunFd, ...dnsStarted.value };
  // DNS first (it unhooks the system resolver while tel0 is still there), then the kernel objects.
  if (dnsStarted.status === 'fulfilled' && dnsStarted.value.dns) {
    await dnsStarted.value.dns.stop().catch((err: unknown) => opts.log.error('dns: stop failed', { err: String(err) }));
  }
  // The caller's own clean-up runs removeAll again and reports its failure; here it is only logged.
  await removeAll(run).catch((err: unknown) => opts.log.error('could not undo the network set-up', { err: String(err) }));
  closeFd(tunFd);
  throw [linked, redirected, dnsStarted].find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
}
