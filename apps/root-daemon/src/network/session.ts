// The root daemon's network session: turns a NetworkConfig into tel0 + routes + redirect rules +
// proxies + tunnel, reports its status, and takes it all down again (on disconnect, quit, SIGTERM,
// and — for state a killed daemon left behind — at the next start).
import type { DnsNamespace, DnsRecordsUpdate, NetworkConfig, NetworkStatus } from '@tel/contracts';
import { TelError } from '@tel/errors';
import type { Logger } from '@tel/logging';
import { managerDnsExchange, rawClusterResolver, type RawExchange } from '../dns/cluster.js';
import { DnsSession, removeDnsLeftovers } from '../dns/session.js';
import { ClusterView } from '../dns/view.js';
import { TcpProxy } from '../proxy/tcp.js';
import { checkListenerOwner } from '../sys/proc-net.js';
import { UdpProxy } from '../proxy/udp.js';
import { contains, formatCidr, parseCidr, parseIp, subtract, type Cidr } from '@tel/cidr';
import { TUN_NAME, execRunner, hasLeftovers, removeAll, type Runner } from '../routing/linux.js';
import { closeFd, koffi, servedBy } from '../sys/libc.js';
import { installKernel, type DnsStart, type Installed } from './kernel.js';
import type { Dialer } from '../tunnel/dialer.js';
import { Http2Dialer } from '../tunnel/http2-dialer.js';
import { StreamTunnel } from '../tunnel/stream-tunnel.js';

/**
 * tel0's address when the config names none: the first of these (RFC 2544 space, which clusters
 * rarely use) that lies outside every routed subnet and exclusion — an address inside a routed
 * subnet would shadow the cluster's own use of it.
 */
export const TUN_ADDRESS_CANDIDATES = ['198.18.127.254', '198.19.255.254', '198.18.255.254', '198.18.63.254'];

export interface RoutingPlan {
  tunAddress: string;
  routed: Cidr[];
  excluded: NetworkConfig['excluded'];
}

/** Validate the config and compute what gets routed: subnets minus every exclusion. */
export function planRouting(cfg: NetworkConfig): RoutingPlan {
  const parse = (what: string, text: string) => {
    try {
      return parseCidr(text);
    } catch (err) {
      // The one grammar's own reason (the same words the CLI and user daemon use).
      throw new TelError('config', `${what} ${JSON.stringify(text)}: ${(err as Error).message}`, 'use IPv4 CIDR notation like 10.96.0.0/12');
    }
  };
  if (!Array.isArray(cfg.subnets) || !Array.isArray(cfg.excluded)) throw new TelError('bug', 'connectNetwork needs subnets and excluded lists', '');
  const subnets = cfg.subnets.map((s) => parse('subnet', s));
  const excluded = cfg.excluded.map((e) => ({ cidr: formatCidr(parse(`${e.reason} exclusion`, e.cidr)), reason: e.reason }));
  const routed = subtract(subnets, excluded.map((e) => parseCidr(e.cidr)));
  const taken = [...subnets, ...excluded.map((e) => parseCidr(e.cidr))];
  const inside = (ip: string) => taken.find((c) => contains(c, { base: parseIp(ip), bits: 32 }));
  let tunAddress = cfg.tunAddress;
  if (tunAddress === undefined) {
    tunAddress = TUN_ADDRESS_CANDIDATES.find((ip) => !inside(ip));
    if (!tunAddress) throw new TelError('config', `no free address for ${TUN_NAME}: all of ${TUN_ADDRESS_CANDIDATES.join(', ')} are routed or excluded`, 'set tunAddress');
  } else {
    try {
      parseIp(tunAddress);
    } catch {
      throw new TelError('config', `invalid TUN address ${JSON.stringify(tunAddress)}`, 'give a single IPv4 address');
    }
    const clash = inside(tunAddress);
    if (clash) throw new TelError('config', `TUN address ${tunAddress} lies inside ${formatCidr(clash)}`, 'pick an address outside the routed subnets and exclusions');
  }
  return { tunAddress, routed, excluded };
}

export interface NetworkSessionDeps {
  log: Logger;
  /** uid of the session's user: the manager socket must be served by a process running as it. */
  ownerUid: number;
  run?: Runner;
}

/**
 * How the resolver asks the cluster: the manager's `POST /dns` on the tunnel's HTTP/2 session
 * (every manager a client may pair with announces the `dns` capability; the user daemon checks).
 */
export function clusterExchange(dialer: Http2Dialer): RawExchange {
  return managerDnsExchange(() => dialer.http2Session());
}

/** Validates what setDnsNamespaces receives (it comes over IPC). */
export function checkNamespaces(list: unknown): DnsNamespace[] {
  const ok =
    Array.isArray(list) &&
    list.every(
      (n: unknown) =>
        typeof n === 'object' &&
        n !== null &&
        typeof (n as DnsNamespace).name === 'string' &&
        ((n as DnsNamespace).services === undefined || (Array.isArray((n as DnsNamespace).services) && (n as DnsNamespace).services!.every((x) => typeof x === 'string'))),
    );
  if (!ok) throw new TelError('bug', 'setDnsNamespaces needs a list of {name, services?}', '');
  return list as DnsNamespace[];
}

interface Active {
  cfg: NetworkConfig;
  plan: RoutingPlan;
  tunFd: number;
  dialer: Http2Dialer;
  tcp: TcpProxy;
  /** The redirect points at the user daemon's listener (NetworkConfig.tcpListenerPort). */
  tcpToUserDaemon: boolean;
  udp: UdpProxy;
  dns?: DnsSession;
  /** Why DNS was configured but isn't running. */
  dnsError?: string;
}

export class NetworkSession {
  private active: Active | undefined;
  /** Serializes connect/disconnect so two requests never interleave kernel changes. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly run: Runner;
  /** The user daemon's latest namespace list (kept across reconnects of the same session). */
  private namespaces: DnsNamespace[] = [];
  /** The user daemon's view of Services (setDnsRecords), kept across reconnects like namespaces. */
  private readonly view = new ClusterView();
  /**
   * None of our kernel or DNS state exists: our own removal succeeded (at start, or at the last
   * disconnect) and nothing was installed since. Lets connect skip its clean-slate removal.
   */
  private clean = false;

  constructor(private readonly deps: NetworkSessionDeps) {
    const run = deps.run ?? execRunner;
    // Each command's duration at debug: connect's cost is mostly these processes.
    this.run = async (cmd, args, stdin) => {
      const started = performance.now();
      try {
        return await run(cmd, args, stdin);
      } finally {
        if (deps.log.level === 'debug' || deps.log.level === 'trace') deps.log.debug(`ran ${cmd} ${args.join(' ')}`, { ms: Math.round(performance.now() - started) });
      }
    };
  }

  get connected(): boolean {
    return this.active !== undefined;
  }

  /** The tunnel of the current session, for other in-daemon users (e.g. DNS to the cluster). */
  get dialer(): Dialer | undefined {
    return this.active?.dialer;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Remove what a previous (crashed) daemon left; call before serving anything. */
  async removeLeftovers(): Promise<void> {
    // Routing and DNS state are separate objects: both checks (and removals) run side by side.
    const removals = Promise.allSettled([removeAll(this.run), removeDnsLeftovers({ run: this.run })]);
    // While those processes run, load the native syscall module connect needs (about 5 ms that
    // would otherwise fall on the first connect); its failure shows at connect, with context.
    try {
      koffi();
    } catch {
      /* reported when a syscall is made */
    }
    const [routing, dns] = await removals;
    if (routing.status === 'fulfilled' && hasLeftovers(routing.value)) this.deps.log.warn('removed network state left by a previous root daemon', { ...routing.value });
    // Not fatal for starting (connect removes it again and reports), but worth a loud line.
    if (routing.status === 'rejected') this.deps.log.error('could not check for or remove leftover network state', { err: String(routing.reason) });
    // DNS: the override table / resolver files. (resolved's link config went with tel0.)
    if (dns.status === 'fulfilled' && dns.value.length) this.deps.log.warn('removed DNS state left by a previous root daemon', { removed: dns.value });
    if (dns.status === 'rejected') this.deps.log.error('could not check for or remove leftover DNS state', { err: String(dns.reason) });
    this.clean = routing.status === 'fulfilled' && dns.status === 'fulfilled' && !this.active;
  }

  /** A clean slate for connect: removes any state of ours, throws when it cannot. */
  private async removeAllState(): Promise<void> {
    await Promise.all([removeAll(this.run), removeDnsLeftovers({ run: this.run })]);
  }

  /**
   * The namespace list from the user daemon's watch: applied to the running resolver at once, or
   * kept as the initial list for the next connect.
   */
  async setDnsNamespaces(list: DnsNamespace[]): Promise<void> {
    this.namespaces = checkNamespaces(list);
    await this.active?.dns?.setNamespaces(this.namespaces);
  }

  /** Changes to the user daemon's view of Services; the running resolver answers from it at once. */
  setDnsRecords(update: DnsRecordsUpdate): void {
    this.view.apply(update);
  }

  connect(cfg: NetworkConfig): Promise<NetworkStatus> {
    return this.serial(async () => {
      const plan = planRouting(cfg);
      if (this.active) {
        if (JSON.stringify(this.active.cfg) === JSON.stringify(cfg)) return this.status() as NetworkStatus;
        await this.teardown();
      }
      const log = this.deps.log;
      const t0 = performance.now();
      /** When each part was done (ms after the request): the `network connected` line's timings. */
      const doneAt: Record<string, number> = {};
      const mark = (step: string) => (doneAt[step] = Math.round(performance.now() - t0));
      // 0. A clean slate: a reconnect must never duplicate a rule. Known without looking when our
      //    own removal succeeded last and nothing was installed since (the kernel part below also
      //    refuses to add an object that exists); otherwise remove whatever is there.
      const knownClean = this.clean;
      this.clean = false;
      if (!knownClean) {
        await this.removeAllState();
        mark('removed');
      }
      // 1. The tunnel first, checked before the kernel is touched. A manager socket served by
      //    anyone but the session's user is refused outright (root must not be made to talk to
      //    some other root-only socket); one that merely doesn't answer yet is reported as unhealthy.
      let refusal: string | undefined;
      const ownerUid = this.deps.ownerUid;
      const managerServedByOwner = servedBy(ownerUid, `manager socket ${cfg.managerSocket}`);
      const verifyServer = (fd: number) => {
        try {
          managerServedByOwner(fd);
        } catch (err) {
          refusal = (err as Error).message;
          throw err;
        }
      };
      const dialer = new Http2Dialer({ socketPath: cfg.managerSocket, log, verifyServer });
      // Connecting the socket decides who serves it (a local check); the ping's round trip to the
      // manager overlaps the kernel work below.
      await dialer.http2Session().catch(() => undefined);
      if (refusal) {
        dialer.close();
        throw new TelError('user', refusal, "connect through 'telepresence connect', whose user daemon serves that socket");
      }
      const health = dialer.checkHealth().then((ok) => (mark('health'), ok));
      const streamTunnel = new StreamTunnel({
        socketPath: cfg.tcpTunnelSocket,
        log,
        verifyServer: servedBy(ownerUid, `tunnel socket ${cfg.tcpTunnelSocket}`),
      });
      // TCP goes straight to the user daemon's listener when it is really its user's; otherwise
      // to our own proxy below (a listener of another user must never get the session's traffic).
      let tcpToUserDaemon = false;
      if (cfg.tcpListenerPort !== undefined) {
        try {
          // The user daemon listens before it sends the port: the check needs no retry.
          checkListenerOwner(cfg.tcpListenerPort, ownerUid);
          tcpToUserDaemon = true;
        } catch (err) {
          // Not fatal: our proxy carries TCP over the stream tunnel socket instead.
          log.warn("not redirecting TCP to the user daemon's listener; carrying TCP here", { err: err instanceof Error ? err.message : String(err) });
        }
      }
      const tcp = new TcpProxy(streamTunnel, log);
      const udp = new UdpProxy(dialer, log);
      try {
        // 2. Proxies listen on loopback ports the kernel picks, before any rule points at them.
        const ownTcpPort = await tcp.listen();
        const tcpPort = tcpToUserDaemon ? cfg.tcpListenerPort! : ownTcpPort;
        const udpPort = udp.listen();
        mark('listening');
        // 3. tel0, routes, rule and redirect table; DNS beside them, using tel0 once it has its
        //    address. A resolver that can't start leaves the network up (addresses work) and says
        //    why in the status.
        const kernelPlan = { tunAddress: plan.tunAddress, routes: plan.routed, tcpPort, udpPort };
        const install = () => installKernel(this.run, kernelPlan, { log, mark, ...(cfg.dns ? { startDns: (tunReady: Promise<void>) => this.startDns(cfg, plan, dialer, tunReady) } : {}) });
        let kernel: Installed;
        try {
          kernel = await install();
        } catch (err) {
          if (!knownClean) throw err;
          // Something of ours was there after all (left by hand or by another process): remove
          // it and try once more; a second failure is the real one.
          log.warn('network state was in the way; removing it and trying once more', { err: String(err) });
          await this.removeAllState();
          kernel = await install();
        }
        const { tunFd, dns, dnsError } = kernel;
        const healthy = await health;
        this.active = { cfg, plan, tunFd, dialer, tcp, tcpToUserDaemon, udp, ...(dns ? { dns } : {}), ...(dnsError ? { dnsError } : {}) };
        log.info(`network connected: ${plan.routed.length} routes via ${TUN_NAME}, tunnel ${healthy ? 'healthy' : 'not answering yet'}`, { tcpPort, udpPort, doneAt });
        return this.status() as NetworkStatus;
      } catch (err) {
        log.error('connectNetwork failed; undoing', { err: String(err) });
        // The kernel part undid itself (tel0's fd is closed, DNS stopped); this removes the rest
        // and leaves `clean` false, so the next connect checks for itself.
        await this.release({ cfg, plan, tunFd: -1, dialer, tcp, tcpToUserDaemon, udp }).catch((e: unknown) => log.error('could not undo everything', { err: String(e) }));
        if (err instanceof TelError) throw err;
        throw new TelError('config', `could not set up the network: ${err instanceof Error ? err.message : String(err)}`, 'check the daemon log; a conflicting route or firewall table is the usual cause');
      }
    });
  }

  private async startDns(cfg: NetworkConfig, plan: RoutingPlan, dialer: Http2Dialer, tunReady: Promise<void>): Promise<DnsStart> {
    const log = this.deps.log;
    const initial = this.namespaces;
    try {
      const dns = await DnsSession.start({
        config: cfg.dns!,
        namespaces: initial,
        cluster: rawClusterResolver(clusterExchange(dialer)),
        tunName: TUN_NAME,
        tunAddress: plan.tunAddress,
        clusterSubnets: cfg.subnets,
        log,
        run: this.run,
        view: this.view,
        tunReady,
      });
      // A list that arrived while the resolver was starting.
      if (this.namespaces !== initial) await dns.setNamespaces(this.namespaces);
      return { dns };
    } catch (err) {
      const dnsError = `the cluster DNS resolver could not start: ${err instanceof Error ? err.message : String(err)}`;
      log.error(dnsError);
      return { dnsError };
    }
  }

  disconnect(): Promise<void> {
    return this.serial(async () => {
      this.namespaces = []; // the next session's watch sends its own
      this.view.clear();
      await this.teardown();
    });
  }

  private async teardown(): Promise<void> {
    const a = this.active;
    this.active = undefined;
    if (!a) return;
    await this.release(a);
    this.clean = true; // release threw otherwise
    this.deps.log.info('network disconnected');
  }

  /** Undo in reverse: rules and routes first (stop new traffic), then proxies, tunnel, link. */
  private async release(a: Active): Promise<void> {
    let failure: unknown;
    // DNS first: unhook the system resolver while our resolver still answers, before tel0 goes.
    if (a.dns) {
      try {
        await a.dns.stop();
      } catch (err) {
        this.deps.log.error('dns: stop failed', { err: String(err) });
        failure = err;
      }
    }
    try {
      await removeAll(this.run);
    } catch (err) {
      failure ??= err;
    }
    if (a.tunFd >= 0) closeFd(a.tunFd);
    await a.tcp.close().catch(() => undefined);
    try {
      a.udp.close();
    } catch {
      /* already closed */
    }
    a.dialer.close();
    if (failure) throw failure;
  }

  status(): NetworkStatus | null {
    const a = this.active;
    if (!a) return null;
    return {
      device: TUN_NAME,
      routedSubnets: a.plan.routed.map(formatCidr),
      excluded: a.plan.excluded,
      tunnelHealthy: a.dialer.healthy,
      activeStreams: a.tcp.active + a.udp.active,
      tcp: a.tcpToUserDaemon ? { via: 'user-daemon' } : a.tcp.streamTunnelStats(),
      ...(a.dns ? { dns: a.dns.status(), dnsView: this.view.status() } : {}),
      ...(a.dnsError ? { dnsError: a.dnsError } : {}),
    };
  }
}
