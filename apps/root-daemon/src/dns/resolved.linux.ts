// systemd-resolved over DBus (org.freedesktop.resolve1): give tel0 our resolver as its DNS server
// and the cluster's routing domains, keep it out of the default route, and revert the link on stop.
// Boundary: root daemon → systemd-resolved (system bus). Call shapes measured on resolved 252.
import dbus from 'dbus-next';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { nameserversFromResolvConf } from '@tel/dns-wire';
import type { NameserverAddress } from './upstream.js';

const SERVICE = 'org.freedesktop.resolve1';
const PATH = '/org/freedesktop/resolve1';
const MANAGER = 'org.freedesktop.resolve1.Manager';
const AF_INET = 2;
const AF_INET6 = 10;

/** What tel0 gets from resolved's point of view. */
export interface ResolvedLinkConfig {
  ifindex: number;
  /** Our resolver; port 53 uses SetLinkDNS, any other port SetLinkDNSEx. */
  server: NameserverAddress;
  /** Domains routed to our server only (given to resolved with the `~` meaning). */
  routingDomains: string[];
  /** Search domains (also routed to us). */
  searchDomains: string[];
}

/** The link's state as resolved reports it (for status and for before/after comparisons). */
export interface ResolvedLinkState {
  dns: string[];
  domains: string[];
  defaultRoute: boolean | undefined;
}

function addressBytes(ip: string): { family: number; bytes: Buffer } {
  if (net.isIPv4(ip)) return { family: AF_INET, bytes: Buffer.from(ip.split('.').map(Number)) };
  if (!net.isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  const full = expandIpv6(ip);
  return { family: AF_INET6, bytes: Buffer.from(full.flatMap((h) => [h >> 8, h & 255])) };
}

function expandIpv6(ip: string): number[] {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':').map((x) => parseInt(x, 16)) : [];
  const t = tail ? tail.split(':').map((x) => parseInt(x, 16)) : [];
  return tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
}

function formatBytes(family: number, b: Buffer): string {
  if (family === AF_INET) return [...b].join('.');
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(i).toString(16));
  return parts.join(':');
}

type Addr = [number, Buffer];
/** The resolve1.Manager methods we call (signatures per org.freedesktop.resolve1(5)). */
interface Resolve1Manager {
  SetLinkDNS(ifindex: number, addrs: Addr[]): Promise<void>;
  SetLinkDNSEx(ifindex: number, addrs: [number, Buffer, number, string][]): Promise<void>;
  SetLinkDomains(ifindex: number, domains: [string, boolean][]): Promise<void>;
  SetLinkDefaultRoute(ifindex: number, enable: boolean): Promise<void>;
  SetLinkLLMNR(ifindex: number, mode: string): Promise<void>;
  SetLinkMulticastDNS(ifindex: number, mode: string): Promise<void>;
  RevertLink(ifindex: number): Promise<void>;
  FlushCaches(): Promise<void>;
  GetLink(ifindex: number): Promise<string>;
}
interface Properties {
  Get(iface: string, name: string): Promise<dbus.Variant>;
}

/**
 * The part of resolved's object we call, as its introspection data describes it (resolved 252).
 * Handing this to the proxy spares the Introspect round trip and parsing resolved's whole
 * description (about 8 kB of XML), a few ms of every connect.
 */
const arg = (type: string, dir: 'in' | 'out' = 'in') => `<arg type="${type}" direction="${dir}"/>`;
const method = (name: string, ...args: string[]) => `<method name="${name}">${args.join('')}</method>`;
const MANAGER_XML = `<node><interface name="${MANAGER}">${[
  method('SetLinkDNS', arg('i'), arg('a(iay)')),
  method('SetLinkDNSEx', arg('i'), arg('a(iayqs)')),
  method('SetLinkDomains', arg('i'), arg('a(sb)')),
  method('SetLinkDefaultRoute', arg('i'), arg('b')),
  method('SetLinkLLMNR', arg('i'), arg('s')),
  method('SetLinkMulticastDNS', arg('i'), arg('s')),
  method('RevertLink', arg('i')),
  method('FlushCaches'),
  method('GetLink', arg('i'), arg('o', 'out')),
].join('')}</interface><interface name="org.freedesktop.DBus.Properties">${method('Get', arg('s'), arg('s'), arg('v', 'out'))}</interface></node>`;

/**
 * resolved's manager object. A proxy made from a description doesn't ask resolved anything, so
 * whether it runs is asked of the bus (concurrently). When it doesn't, introspecting it as before
 * lets D-Bus activation start it where that is set up, or fails.
 */
async function managerObject(bus: dbus.MessageBus): Promise<dbus.ProxyObject> {
  const ownerCall = new dbus.Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'GetNameOwner', signature: 's', body: [SERVICE] });
  const owner = bus.call(ownerCall).then(
    () => true,
    (err: { type?: string }) => {
      if (err.type === 'org.freedesktop.DBus.Error.NameHasNoOwner') return false;
      throw err;
    },
  );
  const [running, obj] = await Promise.all([owner, bus.getProxyObject(SERVICE, PATH, MANAGER_XML)]);
  return running ? obj : bus.getProxyObject(SERVICE, PATH);
}

/** resolved's D-Bus error name for an ifindex it has no link for. */
const NO_SUCH_LINK = 'org.freedesktop.resolve1.NoSuchLink';

export class ResolvedClient {
  private constructor(
    private readonly bus: dbus.MessageBus,
    private readonly manager: Resolve1Manager,
    private readonly props: Properties,
  ) {}

  /**
   * Connect to the system bus and resolved's manager object. Rejects when there is no system bus
   * or resolved doesn't own its name (the caller then falls back to the overriding resolver).
   */
  static async connect(opts: { busAddress?: string; timeoutMs?: number } = {}): Promise<ResolvedClient> {
    // systemBus() ignores an explicit address; sessionBus() is the same client with one.
    const bus = opts.busAddress ? dbus.sessionBus({ busAddress: opts.busAddress }) : dbus.systemBus();
    // Without a bus, dbus-next emits 'error' rather than rejecting; surface it as a rejection.
    const failed = new Promise<never>((_, reject) => bus.once('error', (e: Error) => reject(e)));
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('systemd-resolved did not answer on the system bus')), opts.timeoutMs ?? 3_000).unref());
    try {
      const obj = await Promise.race([managerObject(bus), failed, timeout]);
      bus.on('error', () => undefined);
      return new ResolvedClient(bus, obj.getInterface(MANAGER) as unknown as Resolve1Manager, obj.getInterface('org.freedesktop.DBus.Properties') as unknown as Properties);
    } catch (err) {
      bus.on('error', () => undefined);
      bus.disconnect();
      throw err;
    }
  }

  /** A client when resolved answers on the system bus, else undefined (chooseMode keeps it for start). */
  static async tryConnect(opts: { busAddress?: string } = {}): Promise<ResolvedClient | undefined> {
    return ResolvedClient.connect({ ...opts, timeoutMs: 1_500 }).catch(() => undefined);
  }

  /**
   * 1. DNS server, 2. domains, 3. not the default route, 4. no LLMNR/mDNS noise on tel0.
   * Sent at once, not one after another: each sets an independent property of the link, and
   * messages from one connection reach resolved (single-threaded) in the order sent, so it applies
   * them in this order anyway; only the waits for the replies overlap.
   */
  async configureLink(cfg: ResolvedLinkConfig): Promise<void> {
    const { family, bytes } = addressBytes(cfg.server.ip);
    await settleAll([
      cfg.server.port === 53 ? this.manager.SetLinkDNS(cfg.ifindex, [[family, bytes]]) : this.manager.SetLinkDNSEx(cfg.ifindex, [[family, bytes, cfg.server.port, '']]),
      this.setDomains(cfg.ifindex, cfg.routingDomains, cfg.searchDomains),
      this.manager.SetLinkDefaultRoute(cfg.ifindex, false),
      this.manager.SetLinkLLMNR(cfg.ifindex, 'no'),
      this.manager.SetLinkMulticastDNS(cfg.ifindex, 'no'),
    ]);
  }

  /** Replace the link's domains (a search domain is routed to the link as well). */
  async setDomains(ifindex: number, routingDomains: string[], searchDomains: string[]): Promise<void> {
    const search = new Set(searchDomains);
    const list: [string, boolean][] = [...searchDomains.map((d): [string, boolean] => [d, false]), ...routingDomains.filter((d) => !search.has(d)).map((d): [string, boolean] => [d, true])];
    await this.manager.SetLinkDomains(ifindex, list);
  }

  async flushCaches(): Promise<void> {
    await this.manager.FlushCaches();
  }

  /** Undo everything set on the link (resolved forgets it; the link keeps no DNS config). */
  async revertLink(ifindex: number): Promise<void> {
    try {
      await this.manager.RevertLink(ifindex);
    } catch (err) {
      // The link is gone (its TUN closed with a killed daemon): resolved dropped its settings with it.
      if ((err as { type?: string }).type === NO_SUCH_LINK) return;
      throw err;
    }
  }

  /**
   * The nameservers resolved uses for everything that isn't ours (global and other links), as
   * our upstream: forwarding to 127.0.0.53 instead would route cluster-looking names back to us.
   */
  async upstreamServers(ourIfindex: number): Promise<NameserverAddress[]> {
    const v = (await this.props.Get(MANAGER, 'DNS')) as dbus.Variant<[number, number, Buffer][]>;
    const out: NameserverAddress[] = [];
    for (const [ifindex, family, bytes] of v.value) {
      if (ifindex === ourIfindex) continue;
      out.push({ ip: formatBytes(family, Buffer.from(bytes)), port: 53 });
    }
    if (out.length) return out;
    const fallback = (await this.props.Get(MANAGER, 'FallbackDNS')) as dbus.Variant<[number, number, Buffer][]>;
    return fallback.value.filter(([i]) => i !== ourIfindex).map(([, family, bytes]) => ({ ip: formatBytes(family, Buffer.from(bytes)), port: 53 }));
  }

  /** The link's DNS servers, domains and default-route flag as resolved reports them. */
  async linkState(ifindex: number): Promise<ResolvedLinkState> {
    const [dnsV, domV] = await Promise.all([this.props.Get(MANAGER, 'DNS'), this.props.Get(MANAGER, 'Domains')]);
    const dns = (dnsV as dbus.Variant<[number, number, Buffer][]>).value.filter(([i]) => i === ifindex).map(([, f, b]) => formatBytes(f, Buffer.from(b)));
    const domains = (domV as dbus.Variant<[number, string, boolean][]>).value.filter(([i]) => i === ifindex).map(([, d, routeOnly]) => (routeOnly ? `~${d}` : d));
    let defaultRoute: boolean | undefined;
    try {
      const linkPath = (await this.manager.GetLink(ifindex)) as string;
      const link = await this.bus.getProxyObject(SERVICE, linkPath);
      const v = (await (link.getInterface('org.freedesktop.DBus.Properties') as unknown as Properties).Get('org.freedesktop.resolve1.Link', 'DefaultRoute')) as dbus.Variant<boolean>;
      defaultRoute = v.value;
    } catch {
      defaultRoute = undefined;
    }
    return { dns, domains, defaultRoute };
  }

  close(): void {
    this.bus.disconnect();
  }
}

/** Waits for every call (none is left unobserved), then rejects with the first failure in order. */
async function settleAll(calls: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(calls);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Fallback upstream list when DBus gives none: resolved's own view of the real servers. */
export async function resolvedUplinkResolvConf(exclude: string[]): Promise<NameserverAddress[]> {
  const text = await readFile('/run/systemd/resolve/resolv.conf', 'utf8').catch(() => '');
  return nameserversFromResolvConf(text).filter((s) => !exclude.includes(s.ip));
}
