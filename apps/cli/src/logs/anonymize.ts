// `gather-logs --anonymize`: replaces what identifies a person or a cluster (user names, host
// names, pod IPs, pod / workload / namespace names) with stable placeholders (`user-1`, `pod-2`),
// in file contents and file names alike, so relations between lines and files survive.

export type Kind = 'user' | 'host' | 'ip' | 'namespace' | 'pod' | 'workload';

/**
 * Names that identify nobody and that log lines use as words ("root daemon", "default
 * namespace"): left as they are.
 */
const NOT_IDENTIFYING = new Set(['root', 'localhost', 'default', 'kube-system', 'kube-public', 'kube-node-lease', 'traffic-manager', 'traffic-agent']);

/** Shortest name replaced: shorter ones ("u", "ns") occur inside ordinary words too often to mean anything. */
const MIN_LENGTH = 2;

export class Anonymizer {
  private readonly placeholders = new Map<string, string>();
  private readonly counts = new Map<Kind, number>();
  private pattern: RegExp | undefined;

  /** Registers `value` as a `kind`; the first of a kind becomes `<kind>-1`, the next `<kind>-2`. */
  add(kind: Kind, value: string | undefined): void {
    if (!value || value.length < MIN_LENGTH || NOT_IDENTIFYING.has(value) || this.placeholders.has(value)) return;
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    // The traffic manager's pods stay recognisable as such; their hash suffix is what identifies.
    const label = kind === 'pod' && value.startsWith('traffic-manager-') ? `traffic-manager-pod-${n}` : `${kind}-${n}`;
    this.placeholders.set(value, label);
    this.pattern = undefined;
  }

  /** What each registered value became (value → placeholder), for tests and the json output's counts. */
  get mapping(): ReadonlyMap<string, string> {
    return this.placeholders;
  }

  /**
   * `text` with every registered value replaced where it stands alone: not inside a longer name
   * (`pod-a` is not replaced in `pod-ab`) or a longer address (`10.0.0.1` not in `10.0.0.10`); a
   * dot may border it (`pod.namespace.log`, `host.example.com`).
   * Longer values go first so a pod name is replaced whole, not by its namespace-like parts.
   */
  apply(text: string): string {
    if (this.placeholders.size === 0) return text;
    this.pattern ??= new RegExp(
      `(?<![A-Za-z0-9_-])(?:${[...this.placeholders.keys()]
        .sort((a, b) => b.length - a.length)
        .map(escape)
        .join('|')})(?![A-Za-z0-9_-])`,
      'g',
    );
    return text.replace(this.pattern, (m) => this.placeholders.get(m) ?? m);
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
