// Kernel network state the root daemon owns on Linux: the tel0 link and its routes (iproute2), the
// nftables table `ip telepresence` (TCP REDIRECT, UDP TPROXY) and the fwmark rule + local route
// table that loop marked UDP back into TPROXY. Every object carries a fixed name/number, so what
// a crashed daemon left behind can be found and removed on the next start.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { formatCidr, type Cidr } from '@tel/cidr';

export const TUN_NAME = 'tel0';
/** nftables table (family ip) holding all our chains; deleting it removes every rule we added. */
export const NFT_TABLE = 'telepresence';
/** fwmark put on outgoing UDP to routed subnets, and the policy-routing table/priority it selects. */
export const UDP_MARK = 0x7e10;
export const ROUTE_TABLE = 7210;
export const RULE_PRIORITY = 7210;

export type Runner = (cmd: string, args: string[], stdin?: string) => Promise<string>;

/** Run a command without a shell; rejects with its stderr. */
export const execRunner: Runner = (cmd, args, stdin) =>
  new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 15_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error(`${cmd} not found: the root daemon needs ${cmd === 'nft' ? 'nftables' : 'iproute2'} installed`));
      } else if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });

export interface LinkPlan {
  /** Address given to tel0 (as /32): the source of connections into routed subnets. */
  address: string;
  routes: Cidr[];
}

/** The `ip -batch` lines for tel0 (address, up, one route per prefix) and the fwmark rule + table. */
export function linkBatch(plan: LinkPlan): string[] {
  // `add`, never `replace`, throughout: each line fails with "File exists" when the object is
  // there already, so nothing is added twice, and a route for the same prefix, which belongs to
  // someone else, is never taken over (replacing it would lose it when we clean up).
  return [
    `address add ${plan.address}/32 dev ${TUN_NAME}`,
    `link set dev ${TUN_NAME} up`,
    ...plan.routes.map((r) => `route add ${formatCidr(r)} dev ${TUN_NAME} src ${plan.address}`),
    // Marked UDP (see nftRuleset) is looked up in our table, which delivers it locally to TPROXY.
    `route add local 0.0.0.0/0 dev lo table ${ROUTE_TABLE}`,
    `rule add fwmark 0x${UDP_MARK.toString(16)} lookup ${ROUTE_TABLE} priority ${RULE_PRIORITY}`,
  ];
}

/**
 * Address tel0 (already created by opening the TUN), turn IPv6 off on it, bring it up, add one
 * route per prefix, and the fwmark rule with its table. One `ip -batch` process for everything
 * (each process costs milliseconds on the connect path), and the first failing line aborts with
 * its line number. Independent of the nftables table: the two may be installed side by side.
 */
export async function configureLink(run: Runner, plan: LinkPlan): Promise<void> {
  // IPv6 is unused on tel0; without this the kernel (and resolved) sends router solicitations.
  const v6 = `/proc/sys/net/ipv6/conf/${TUN_NAME}/disable_ipv6`;
  if (existsSync(v6)) writeFileSync(v6, '1');
  const lines = linkBatch(plan);
  try {
    await run('ip', ['-batch', '-'], lines.join('\n') + '\n');
  } catch (err) {
    throw explainBatchError(err, lines);
  }
}

/** `ip -batch` says "Command failed -:N": name the route (or step) that line N was. */
function explainBatchError(err: unknown, lines: string[]): Error {
  const text = err instanceof Error ? err.message : String(err);
  const n = Number(/Command failed -:(\d+)/.exec(text)?.[1]);
  const line = lines[n - 1];
  const why = /(RTNETLINK answers: [^\n]*|Error: [^\n]*)/.exec(text)?.[1]?.trim() ?? text;
  const route = line && /^route add (\S+) dev /.exec(line)?.[1];
  if (route && /File exists/.test(text)) {
    return new Error(`cannot route ${route} into ${TUN_NAME}: this host already has a route for exactly that prefix (${why}); add it to never-proxy or remove the host's route`);
  }
  return new Error(line ? `${line}: ${why}` : text);
}

export interface RedirectPlan {
  routes: Cidr[];
  /** Loopback port of the transparent TCP proxy. */
  tcpPort: number;
  /** Loopback port of the transparent (IP_TRANSPARENT) UDP socket. */
  udpPort: number;
}

/**
 * The nftables ruleset, applied as one atomic transaction. `create` fails the whole transaction
 * when the table exists already, so rules are never added twice; the caller removes what is in
 * the way and tries again. (Replacing it in the same transaction, by declaring and deleting it
 * first, would cost a deletion on every connect: about 13 ms of the kernel's commit, measured.)
 */
export function nftRuleset(plan: RedirectPlan): string {
  const set = plan.routes.length ? `elements = { ${plan.routes.map(formatCidr).join(', ')} }` : '';
  const mark = `0x${UDP_MARK.toString(16)}`;
  return [
    `create table ip ${NFT_TABLE}`,
    `table ip ${NFT_TABLE} {`,
    `  set routed { type ipv4_addr; flags interval; ${set} }`,
    // TCP: locally originated connections to routed subnets go to the proxy on 127.0.0.1:tcpPort.
    `  chain nat_output {`,
    `    type nat hook output priority -100; policy accept;`,
    `    ip daddr @routed meta l4proto tcp redirect to :${plan.tcpPort}`,
    `  }`,
    // UDP: mark it, which re-routes it (ip rule fwmark → table with `local 0/0 dev lo`) back into
    // this host, where prerouting hands it to the transparent socket with its destination intact.
    `  chain mangle_output {`,
    `    type route hook output priority -150; policy accept;`,
    `    ip daddr @routed meta l4proto udp meta mark set ${mark}`,
    `  }`,
    `  chain mangle_prerouting {`,
    `    type filter hook prerouting priority -150; policy accept;`,
    `    iifname "lo" meta mark ${mark} meta l4proto udp tproxy to 127.0.0.1:${plan.udpPort} accept`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/** The nftables table: one `nft` process. Marked UDP needs the rule configureLink adds. */
export async function installRedirects(run: Runner, plan: RedirectPlan): Promise<void> {
  try {
    await run('nft', ['-f', '-'], nftRuleset(plan));
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const why = /Error: [^\n]*/.exec(text)?.[0] ?? text;
    throw new Error(`nftables table ip ${NFT_TABLE}: ${why}`);
  }
}

export interface Leftovers {
  link: boolean;
  nftTable: boolean;
  rules: number;
  tableRoutes: number;
}

/** What of ours exists right now (used at start to report and remove crash leftovers). */
export async function findLeftovers(run: Runner): Promise<Leftovers> {
  const [links, tables, rules, routes] = await Promise.all([
    run('ip', ['-o', 'link', 'show']),
    run('nft', ['list', 'tables']),
    run('ip', ['rule', 'show']),
    run('ip', ['route', 'show', 'table', String(ROUTE_TABLE)]).catch(() => ''),
  ]);
  return {
    link: links.split('\n').some((l) => l.split(':')[1]?.trim().split('@')[0] === TUN_NAME),
    nftTable: tables.split('\n').some((l) => l.trim() === `table ip ${NFT_TABLE}`),
    rules: rules.split('\n').filter((l) => new RegExp(`^${RULE_PRIORITY}:.*lookup ${ROUTE_TABLE}\\b`).test(l.trim())).length,
    tableRoutes: routes.split('\n').filter((l) => l.trim()).length,
  };
}

export function hasLeftovers(l: Leftovers): boolean {
  return l.link || l.nftTable || l.rules > 0 || l.tableRoutes > 0;
}

/**
 * Remove everything of ours that exists; idempotent and tolerant of partial state (a crash can
 * stop anywhere). Routes on tel0 go with the link; a non-persistent TUN link itself disappears
 * when its fd is closed, so deleting it here only matters after something made it persistent.
 */
export async function removeAll(run: Runner): Promise<Leftovers> {
  const found = await findLeftovers(run);
  const errors: string[] = [];
  const attempt = async (p: Promise<unknown>) => p.catch((e: unknown) => errors.push(String(e instanceof Error ? e.message : e)));
  if (found.nftTable) await attempt(run('nft', ['delete', 'table', 'ip', NFT_TABLE]));
  for (let i = 0; i < found.rules; i++) await attempt(run('ip', ['rule', 'del', 'priority', String(RULE_PRIORITY), 'lookup', String(ROUTE_TABLE)]));
  if (found.tableRoutes) await attempt(run('ip', ['route', 'flush', 'table', String(ROUTE_TABLE)]));
  if (found.link) await attempt(run('ip', ['link', 'del', TUN_NAME]));
  if (errors.length) throw new Error(`could not remove all network state: ${errors.join('; ')}`);
  return found;
}
