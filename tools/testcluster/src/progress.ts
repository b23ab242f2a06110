// How long work shows it is alive. On a terminal: one live line (what, how far, elapsed) redrawn
// every second, messages printed above it. Elsewhere (CI logs, pipes): plain lines only, each
// message once, a build's count at most every 30 s and a "still …" line after 30 s of silence,
// so a 20-minute cold build never looks hung and a log never fills with spinner frames.

/** How far a long build step is: `done` of `total` units (packages compiled) of `what`. */
export interface BuildCount {
  done: number;
  total: number;
  what: string;
}

/** What a message is about; `build` marks the long cold build (shown even by quiet logs). */
export interface LogInfo {
  build?: boolean;
  count?: BuildCount;
  /** The caller printed the message itself (a step header): only track it as the work going on. */
  shown?: boolean;
}

export type Log = (msg: string, info?: LogInfo) => void;

export interface ProgressOptions {
  write: (s: string) => void;
  /** A terminal: live line. Not one: plain lines. */
  live: boolean;
  prefix?: string;
  /** Show only what concerns the cold build (tests: quiet, except for a long build). */
  buildOnly?: boolean;
  /** Plain mode: a count or a "still" line at most this often (default 30 s). */
  plainEveryMs?: number;
  now?: () => number;
}

export interface Progress {
  log: Log;
  /** Stops the ticker and clears the live line. */
  stop(): void;
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

const describeCount = (c: BuildCount) => (c.total > 0 ? `${c.what}: ${Math.min(c.done, c.total)}/${c.total} packages (${Math.min(99, Math.floor((100 * c.done) / c.total))}%)` : `${c.what}: ${c.done} packages`);

export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? Date.now;
  const prefix = opts.prefix ?? '';
  const every = opts.plainEveryMs ?? 30_000;
  const started = now();
  let last = '';
  let count: BuildCount | undefined;
  let lastPlain = now();
  let shown = false;
  let ticker: NodeJS.Timeout | undefined;

  const liveLine = () => `${prefix}${count ? `${describeCount(count)} ` : ''}… ${formatElapsed(now() - started)}`;
  const redraw = () => {
    opts.write(`\r\x1b[K${liveLine()}`);
    shown = true;
  };
  const clear = () => {
    if (shown) opts.write('\r\x1b[K');
    shown = false;
  };
  const plain = (text: string) => {
    opts.write(`${prefix}${text}\n`);
    lastPlain = now();
  };

  const log: Log = (msg, info) => {
    if (opts.buildOnly && !info?.build) return;
    if (info?.count) {
      count = info.count;
      if (opts.live) redraw();
      else if (now() - lastPlain >= every) plain(`${describeCount(count)}, ${formatElapsed(now() - started)}`);
      return;
    }
    count = undefined;
    last = msg;
    if (opts.live) {
      clear();
      if (!info?.shown) opts.write(`${prefix}${msg}\n`);
      ticker ??= setInterval(redraw, 1_000);
      ticker.unref();
    } else {
      if (info?.shown) lastPlain = now();
      else plain(msg);
      // In plain mode a long silence gets a line of its own.
      ticker ??= setInterval(() => {
        if (now() - lastPlain >= every) plain(`still ${count ? describeCount(count) : `working: ${last}`}, ${formatElapsed(now() - started)}`);
      }, Math.min(every, 5_000));
      ticker.unref();
    }
  };

  return {
    log,
    stop() {
      clearInterval(ticker);
      ticker = undefined;
      clear();
    },
  };
}
