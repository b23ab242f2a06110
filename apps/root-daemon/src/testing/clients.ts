// Client programs the e2e tests run inside the workstation namespace (plain Node, no tsx), each
// printing one JSON line; and the snapshot of routing state used to prove exact restoration.
import type { Netns } from './netns.js';

/** Run a Node snippet inside a namespace; returns its last stdout line, parsed. */
export async function nodeIn(ns: Netns, code: string, ...args: string[]): Promise<any> {
  const out = await ns.exec(process.execPath, ['-e', code, ...args], { timeoutMs: 120_000 });
  return JSON.parse(out.trim().split('\n').pop() ?? 'null');
}

/** argv: ip port message → {ok, got} after a half-closed exchange, or {ok:false, code}. */
export const TCP_CLIENT = `
const net = require('net');
const [ip, port, msg] = process.argv.slice(1);
const s = net.connect({ host: ip, port: +port, allowHalfOpen: true });
let got = '';
s.on('connect', () => s.end(msg));
s.on('data', (c) => (got += c));
s.on('end', () => { console.log(JSON.stringify({ ok: true, got })); s.destroy(); });
s.on('error', (e) => console.log(JSON.stringify({ ok: false, code: e.code })));
setTimeout(() => { console.log(JSON.stringify({ ok: false, code: 'TIMEOUT' })); process.exit(0); }, 10000).unref();
`;

/** argv: ip port message → {ok, got, from} for the first reply datagram. */
export const UDP_CLIENT = `
const dgram = require('dgram');
const [ip, port, msg] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.on('message', (m, rinfo) => { console.log(JSON.stringify({ ok: true, got: m.toString(), from: rinfo.address + ':' + rinfo.port })); s.close(); });
s.send(msg, +port, ip);
setTimeout(() => { console.log(JSON.stringify({ ok: false, code: 'TIMEOUT' })); process.exit(0); }, 5000).unref();
`;

export interface Snapshot {
  routes: string;
  rules: string;
  nft: string;
  iptables: string;
  links: string;
}

/** Everything routing-related in a namespace, for before/after comparison. */
export async function snapshot(ns: Netns): Promise<Snapshot> {
  return {
    routes: await ns.exec('ip', ['route', 'show', 'table', 'all']),
    rules: await ns.exec('ip', ['rule', 'show']),
    nft: await ns.exec('nft', ['list', 'ruleset']),
    iptables: await ns.exec('iptables-save', []).then((s) => s.replace(/^#.*$/gm, '')),
    links: await ns.exec('ip', ['-o', 'link', 'show']),
  };
}
