// Public-suffix decisions for namespace names (ICANN section of the public suffix list, via tldts).
// A namespace called `rs` must not turn every `*.rs` name (docs.rs) into a cluster name.
import { parse } from 'tldts';

/**
 * True when `label` is itself an ICANN public suffix (`rs`, `im`, `dev`, `com`). Only the ICANN
 * section counts: private entries (github.io) are not TLDs, and tldts' implicit `*` rule (any
 * unknown TLD, e.g. `default`) is not a listed suffix either.
 */
export function isIcannPublicSuffix(label: string): boolean {
  const r = parse(`x.${label}`, { allowPrivateDomains: false, detectIp: false, extractHostname: false, validateHostname: false });
  return r.isIcann === true && r.publicSuffix === label;
}
