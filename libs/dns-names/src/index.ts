// Rules about DNS names that both daemons apply: which namespace names are ICANN public suffixes
// (the user daemon sends their service names; the root daemon routes them per service). Pure.
import { parse } from 'tldts';

/**
 * True when `label` is itself an ICANN public suffix (`rs`, `im`, `dev`, `com`), so a namespace of
 * that name must not turn every `*.rs` name (docs.rs) into a cluster name. Only the ICANN section
 * counts: private entries (github.io) are not TLDs, and tldts' implicit `*` rule (any unknown TLD,
 * e.g. `default`) is not a listed suffix either.
 */
export function isIcannPublicSuffix(label: string): boolean {
  const r = parse(`x.${label}`, { allowPrivateDomains: false, detectIp: false, extractHostname: false, validateHostname: false });
  return r.isIcann === true && r.publicSuffix === label;
}
