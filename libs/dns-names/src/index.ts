// Rules about DNS names that the CLI and both daemons apply: what a namespace or service name may
// be (a DNS-1123 label) and which ones are ICANN public suffixes (the user daemon sends their
// service names; the root daemon routes them per service). Pure.
import { parse } from 'tldts';

const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * True for a DNS-1123 label (lower-case letters, digits and `-`, alphanumeric at both ends, at most
 * 63 characters): what Kubernetes requires of namespace and service names, so nothing else can be
 * a cluster name's label.
 */
export function isDns1123Label(s: string): boolean {
  return DNS_1123_LABEL.test(s);
}

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
