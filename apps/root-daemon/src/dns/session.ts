// The root daemon's DNS session: runs our resolver and points the system at it in one of three
// ways (systemd-resolved link config, nftables override, macOS resolver files), follows the
// namespace list, reports status, and undoes it all on stop or — for what a crash left — at start.
import type { DnsConfig, DnsMode, DnsNamespace, DnsStatus } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { execRunner, type Runner } from '../routing/linux.js';
import { interfaceIndex } from '../sys/libc.js';
import type { ClusterResolver } from './cluster.js';
import { reverseZones, systemDomains, type NameRules } from './names.js';
import { installOverride, removeOverride } from './override.linux.js';
import { ResolvedClient, resolvedUplinkResolvConf } from './resolved.linux.js';
import { removeResolverFiles, syncResolverFiles, RESOLVER_DIR } from './resolver-files.darwin.js';
import { DEFAULT_LOOKUP_TIMEOUT_MS, DnsServer } from './server.js';
import { connectMarked, DNS_BYPASS_MARK } from './sockmark.linux.js';
import { inspectSystemResolver, type SystemResolver, type SystemResolverFiles } from './system-resolver.linux.js';
import { DnsUpstream, formatAddress, type NameserverAddress } from './upstream.js';
import type { ClusterView } from './view.js';

export interface DnsSessionOptions {
  config: DnsConfig;
  /** Initial namespace list (then kept current with setNamespaces). */
  namespaces: DnsNamespace[];
  cluster: ClusterResolver;
  /** tel0: the resolver listens on its address, port 53, in resolved mode. */
  tunName: string;
  tunAddress: string;
  /** Cluster CIDRs whose reverse (PTR) names go to the cluster. */
  clusterSubnets?: string[];
  log: Logger;
  run?: Runner;
  /** Override for tests: upstream nameservers instead of the system's. */
  upstream?: NameserverAddress[];
  /** macOS resolver directory (tests use a temp dir). */
  resolverDir?: string;
  /** Port for resolver-files / none modes (0: any). Resolved mode always uses 53 on tel0. */
  port?: number;
  /** Tests: resolv.conf and nsswitch.conf to read instead of /etc's. */
  systemResolverFiles?: SystemResolverFiles;
  /** The user daemon's view of Services (kept by the caller across connects); answered from first. */
  view?: ClusterView;
  /**
   * Settles once tel0 has its address (the caller sets it up meanwhile; tel0 itself must exist
   * already). Everything up to binding the resolver is done before: the mode, resolved's
   * connection, the link's index, the upstream; the bind and the hook-up after.
   */
  tunReady?: Promise<void>;
}

export interface ModeChoice {
  mode: DnsMode;
  reason: string;
  /** Linux: what the choice was made from, and the nameservers glibc asks. */
  system?: SystemResolver;
}

/**
 * Pick the mode for this machine. Linux: resolved when it answers on the system bus AND glibc
 * programs reach it (resolv.conf names its stub, or nsswitch uses `resolve`); otherwise taking
 * over the nameservers glibc asks is what makes cluster names work for them.
 */
export async function chooseMode(configured: DnsMode | undefined, platform: NodeJS.Platform = process.platform, files?: SystemResolverFiles): Promise<ModeChoice> {
  const { choice, resolved } = await pickMode(configured, platform, files);
  resolved?.close();
  return choice;
}

/**
 * chooseMode, keeping the connection to resolved it made (asking it twice costs a second
 * connection): `resolved` is set only for mode 'resolved', and is then the caller's to close.
 */
async function pickMode(configured: DnsMode | undefined, platform: NodeJS.Platform, files?: SystemResolverFiles): Promise<{ choice: ModeChoice; resolved?: ResolvedClient }> {
  // Reading the files and connecting to the bus overlap; the connection is only made when the
  // mode depends on it or will use it.
  const probe = platform === 'linux' && (configured === undefined || configured === 'resolved');
  const connecting = probe ? ResolvedClient.tryConnect() : Promise.resolve(undefined);
  const system = platform === 'linux' ? await inspectSystemResolver(files).catch(async (err: unknown) => {
    (await connecting)?.close();
    throw err;
  }) : undefined;
  const resolved = await connecting;
  const withSystem = system ? { system } : {};
  const choice = ((): ModeChoice => {
    if (configured) return { mode: configured, reason: 'set in the session configuration', ...withSystem };
    if (platform === 'darwin') return { mode: 'resolver-files', reason: 'macOS: /etc/resolver files' };
    if (!system) return { mode: 'none', reason: `no DNS integration on ${platform}` };
    if (!resolved) return { mode: 'override', reason: 'systemd-resolved is not running: taking over the nameservers in resolv.conf', system };
    if (system.reachesResolved) return { mode: 'resolved', reason: 'systemd-resolved is running and programs ask it', system };
    return {
      mode: 'override',
      reason: `systemd-resolved is running but programs do not ask it (${system.view.resolvConf}; nsswitch hosts: ${system.view.nsswitchHosts}): taking over nameserver ${system.nameservers.map((n) => n.ip).join(', ')} instead`,
      system,
    };
  })();
  if (choice.mode === 'resolved' && resolved) return { choice, resolved };
  resolved?.close();
  return { choice };
}

/** Remove what a crashed daemon's DNS session left: the override table and our resolver files. */
export async function removeDnsLeftovers(opts: { run?: Runner; platform?: NodeJS.Platform; resolverDir?: string } = {}): Promise<string[]> {
  const removed: string[] = [];
  const platform = opts.platform ?? process.platform;
  if (platform === 'linux' && (await removeOverride(opts.run ?? execRunner).catch(() => false))) removed.push('nft table');
  if (platform === 'darwin') removed.push(...(await removeResolverFiles(opts.resolverDir ?? RESOLVER_DIR)));
  // resolved's link config dies with tel0 (closing the TUN fd removes the link): nothing to do.
  return removed;
}

export class DnsSession {
  private domains: { routing: string[]; search: string[] } = { routing: [], search: [] };
  /** Serializes link updates so namespace changes apply in order. */
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  private constructor(
    private readonly opts: DnsSessionOptions,
    private readonly choice: ModeChoice,
    private readonly server: DnsServer,
    private readonly upstream: DnsUpstream | undefined,
    private readonly resolved: ResolvedClient | undefined,
    private readonly ifindex: number,
  ) {}

  get mode(): DnsMode {
    return this.choice.mode;
  }

  /**
   * Start: 1. pick the mode, 2. find the upstream nameservers (before we change anything),
   * 3. start the resolver, 4. hook it into the system. Anything started is undone on failure.
   */
  static async start(opts: DnsSessionOptions): Promise<DnsSession> {
    const run = opts.run ?? execRunner;
    const cfg = opts.config;
    // When each step was done (ms since start): the debug line below, for connect's timings.
    const t0 = performance.now();
    const doneAt: Record<string, number> = {};
    const mark = (step: string) => (doneAt[step] = Math.round((performance.now() - t0) * 10) / 10);
    const picked = await pickMode(cfg.mode, process.platform, opts.systemResolverFiles);
    const choice = picked.choice;
    const mode = choice.mode;
    mark('mode');
    const rules: NameRules = {
      connectedNamespace: cfg.connectedNamespace,
      clusterDomain: cfg.clusterDomain,
      includeSuffixes: cfg.includeSuffixes ?? [],
      excludeSuffixes: cfg.excludeSuffixes ?? [],
      reverseZones: reverseZones(opts.clusterSubnets ?? []),
    };
    let resolved = picked.resolved;
    let upstream: DnsUpstream | undefined;
    let server: DnsServer | undefined;
    let ifindex = 0;
    try {
      // 2. Upstream: who answered before us.
      let servers = opts.upstream;
      if (mode === 'resolved') {
        // Configured 'resolved' on a machine where it doesn't answer: connect's error says so.
        resolved ??= await ResolvedClient.connect();
        ifindex = linkIndex(opts.tunName);
        servers ??= await resolved.upstreamServers(ifindex).catch(() => [] as NameserverAddress[]);
        if (!servers.length) servers = await resolvedUplinkResolvConf([opts.tunAddress]);
        mark('link');
      }
      servers ??= (choice.system ?? (await inspectSystemResolver(opts.systemResolverFiles))).nameservers.filter((s) => s.ip !== opts.tunAddress);
      if (servers.length) {
        // In override mode our upstream traffic must not be redirected back to us: UDP leaves
        // from one exempt port, TCP connections carry an exempt firewall mark.
        upstream = new DnsUpstream({ servers, connectTcp: mode === 'override' ? (h, p) => connectMarked(h, p, DNS_BYPASS_MARK) : undefined });
        await upstream.open();
      }
      mark('upstream');
      await opts.tunReady;
      mark('tun');
      // 3. The resolver. In resolved mode port 53 on tel0's address, unless something bound
      //    0.0.0.0:53 already (dnsmasq...): then any port, which resolved takes via SetLinkDNSEx.
      const host = mode === 'resolved' ? opts.tunAddress : '127.0.0.1';
      const make = (port: number) =>
        new DnsServer({
          host,
          port,
          rules,
          namespaces: opts.namespaces,
          cluster: opts.cluster,
          upstream,
          lookupTimeoutMs: cfg.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS,
          log: opts.log,
          ...(opts.view ? { view: opts.view } : {}),
        });
      server = make(mode === 'resolved' ? 53 : (opts.port ?? 0));
      let addr: { host: string; port: number };
      try {
        addr = await server.listen();
      } catch (err) {
        if (mode !== 'resolved' || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        opts.log.warn(`dns: ${host}:53 is taken; our resolver uses another port`);
        server = make(0);
        addr = await server.listen();
      }
      mark('listen');
      const session = new DnsSession(opts, choice, server, upstream, resolved, ifindex);
      if (opts.view) opts.view.onChange = () => session.viewChanged();
      // 4. Hook into the system.
      session.domains = systemDomains(server.nameRules, server.namespaceTable);
      if (mode === 'resolved') {
        // The flush goes out right behind the link's settings (resolved applies them in order).
        const configured = resolved!.configureLink({ ifindex, server: { ip: addr.host, port: addr.port }, routingDomains: session.domains.routing, searchDomains: session.domains.search });
        await Promise.all([configured, resolved!.flushCaches().catch(() => undefined)]);
      } else if (mode === 'override') {
        const nameservers = (upstream?.servers ?? []).map((s) => s.replace(/:\d+$/, '')).filter((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip));
        await installOverride(run, { nameservers, resolverPort: addr.port, upstreamSourcePort: upstream?.localPort ?? 0, bypassMark: DNS_BYPASS_MARK });
      } else if (mode === 'resolver-files') {
        await syncResolverFiles({ server: { ip: addr.host, port: addr.port }, domains: session.domains.routing, search: session.domains.search }, opts.resolverDir);
      }
      mark('hook');
      opts.log.debug('dns: start timings', { doneAt });
      opts.log.info(`dns: ${mode} mode (${choice.reason}); resolver on ${formatAddress({ ip: addr.host, port: addr.port })}, upstream ${upstream?.servers.join(' ') ?? 'none'}`, {
        routing: session.domains.routing.length,
      });
      return session;
    } catch (err) {
      if (mode === 'resolved' && resolved && ifindex) await resolved.revertLink(ifindex).catch(() => undefined);
      if (mode === 'override') await removeOverride(run).catch(() => undefined);
      if (mode === 'resolver-files') await removeResolverFiles(opts.resolverDir).catch(() => undefined);
      await server?.close();
      upstream?.close();
      resolved?.close();
      throw err;
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /**
   * The namespace list changed (the caller's k8s watch): remap names at once and update the
   * system's routing domains when they changed. Resolves when both are in effect.
   */
  setNamespaces(list: DnsNamespace[]): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      this.server.setNamespaces(list);
      const next = systemDomains(this.server.nameRules, this.server.namespaceTable);
      if (JSON.stringify(next) === JSON.stringify(this.domains)) return;
      this.domains = next;
      const addr = this.server.address;
      if (this.mode === 'resolved') {
        await this.resolved!.setDomains(this.ifindex, next.routing, next.search);
        await this.resolved!.flushCaches().catch(() => undefined);
      } else if (this.mode === 'resolver-files') {
        await syncResolverFiles({ server: { ip: addr.host, port: addr.port }, domains: next.routing, search: next.search }, this.opts.resolverDir);
      }
      this.opts.log.debug('dns: namespaces updated', { namespaces: this.server.namespaceTable.names.length, routing: next.routing.length });
    });
  }

  /**
   * The view changed: what resolved (and our cache) hold from before may be stale, e.g. a deleted
   * Service's address or the NXDOMAIN of one just created. One flush at a time; changes that
   * arrive meanwhile share the next one.
   */
  private flushPending = false;
  private viewChanged(): void {
    this.server.clearCache();
    if (this.mode !== 'resolved' || this.flushPending) return;
    this.flushPending = true;
    void this.serial(async () => {
      this.flushPending = false;
      if (!this.stopped) await this.resolved!.flushCaches().catch(() => undefined);
    });
  }

  status(): DnsStatus {
    const a = this.server.address;
    const rules = this.server.nameRules;
    return {
      mode: this.mode,
      modeReason: this.choice.reason,
      ...(this.choice.system ? { systemResolver: this.choice.system.view } : {}),
      server: formatAddress({ ip: a.host, port: a.port }),
      upstream: this.upstream?.servers ?? [],
      routingDomains: this.mode === 'override' || this.mode === 'none' ? [] : this.domains.routing.map((d) => (this.mode === 'resolved' ? `~${d}` : d)),
      searchDomains: this.domains.search,
      namespaces: this.server.namespaceTable.names,
      leftOut: this.server.namespaceTable.leftOut,
      includeSuffixes: rules.includeSuffixes,
      excludeSuffixes: rules.excludeSuffixes,
      lookupTimeoutMs: this.opts.config.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS,
      stats: { ...this.server.stats },
    };
  }

  /** The resolver itself (benchmarks and tests). */
  get resolver(): DnsServer {
    return this.server;
  }

  /** Undo in reverse: unhook from the system first (no query lands on a closed port), then stop. */
  stop(): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      this.stopped = true;
      if (this.opts.view) this.opts.view.onChange = undefined;
      const errors: unknown[] = [];
      const attempt = async (p: Promise<unknown>) => p.catch((e: unknown) => errors.push(e));
      const run = this.opts.run ?? execRunner;
      if (this.mode === 'resolved') await attempt(this.resolved!.revertLink(this.ifindex));
      if (this.mode === 'override') await attempt(removeOverride(run));
      if (this.mode === 'resolver-files') await attempt(removeResolverFiles(this.opts.resolverDir));
      await this.server.close();
      this.upstream?.close();
      this.resolved?.close();
      if (errors.length) throw new Error(`dns: could not undo everything: ${errors.map(String).join('; ')}`);
    });
  }
}

/**
 * ifindex of a link in this process's network namespace (where tel0 was opened), asked of the
 * kernel directly: sysfs may belong to another namespace, and `ip` costs a process.
 */
export function linkIndex(name: string): number {
  const n = interfaceIndex(name);
  if (!n) throw new Error(`no link ${name}`);
  return n;
}
