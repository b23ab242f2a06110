// The CLI's output layer, the only place that writes to the terminal: human text by default,
// one JSON or YAML document with --output json|yaml, spinners on a TTY, progress events as plain
// lines otherwise, and every error as `telepresence <command>: error: <message>`.
import type { ProgressEvent } from '@tel/contracts';
import { userError } from '@tel/errors';
import { dump } from 'js-yaml';

export type OutputFormat = 'text' | 'json' | 'yaml';

/** What `-o/--output` accepts, as 2.x spells it ("default" is human text). */
export const OUTPUT_FORMATS = ['default', 'json', 'yaml'] as const;

/** `-o` value → format; case-insensitive like 2.x. A format not offered is a user error. */
export function parseOutputFormat(value: string): OutputFormat {
  const v = value.toLowerCase();
  if (v === 'default') return 'text';
  if (v === 'json' || v === 'yaml') return v;
  throw userError(`invalid output format ${JSON.stringify(value)}`, `use one of ${OUTPUT_FORMATS.join(', ')}`);
}

export class Output {
  /** Progress events of this command, for the json document; undefined until it reports any. */
  private collected: ProgressEvent[] | undefined;

  constructor(
    readonly format: OutputFormat,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
    /** The command path errors name, e.g. "helm install"; empty before a command is known. */
    readonly command = '',
  ) {}

  /** A machine-readable document (json or yaml) instead of text. */
  get json(): boolean {
    return this.format !== 'text';
  }

  private document(doc: object): void {
    this.stdout.write(this.format === 'yaml' ? dump(doc, { lineWidth: -1, noRefs: true }) : JSON.stringify(doc) + '\n');
  }

  private get live(): boolean {
    return !!this.stderr.isTTY && !process.env.CI;
  }

  /** A line for humans; suppressed in json/yaml mode, where `result` carries the data. */
  line(text: string): void {
    if (!this.json) this.stdout.write(text + '\n');
  }

  /**
   * The command's result: printed as one document in json/yaml mode, rendered by `human`
   * otherwise. A command that reports progress (`events()`) gets its events as the `events` array.
   */
  result(data: object, human: () => string): void {
    if (this.json) this.document(this.collected ? { ...data, events: this.collected } : data);
    else this.stdout.write(human() + '\n');
  }

  /** The json/yaml document of a failed command. */
  errorDocument(error: object): void {
    this.document(this.collected ? { error, events: this.collected } : { error });
  }

  /** Something the user should know that is not the result (e.g. a daemon was replaced). */
  notice(text: string): void {
    this.stderr.write(text + '\n');
  }

  /** Progress of a step without events (starting a daemon): a spinner line on a TTY, else nothing. */
  progress(text: string): void {
    if (this.live) this.stderr.write(`\r\x1b[K${text}`);
  }

  progressDone(): void {
    if (this.live) this.stderr.write('\r\x1b[K');
  }

  /**
   * A sink for a long operation's progress events, and a promise that the command's json document
   * carries an `events` array (empty when nothing happened). Each event is shown as a live line on
   * a terminal and as a plain line on stderr otherwise; a warning always stays on screen.
   */
  events(): (event: ProgressEvent) => void {
    const collected = (this.collected ??= []);
    return (event) => {
      if (this.json) collected.push(event);
      else if (event.warning) {
        this.progressDone();
        this.notice(event.message);
      } else if (this.live) this.stderr.write(`\r\x1b[K${event.message}`);
      else this.stderr.write(`${event.message}\n`);
    };
  }

  /** One error line, as 2.x prints it: `telepresence helm install: error: ...`. */
  error(text: string): void {
    this.stderr.write(`${errorPrefix(this.command)}${text}\n`);
  }
}

export function errorPrefix(command: string): string {
  return `telepresence${command ? ` ${command}` : ''}: error: `;
}

/** `managerNamespace` → `manager_namespace`, `podIP` → `pod_ip`. */
function snakeKey(key: string): string {
  return key.replace(/([a-z0-9])([A-Z]+)/g, '$1_$2').toLowerCase();
}

/**
 * A copy of `value` with every object key in snake_case, as 2.x's json and yaml documents spell
 * them. Only for our own data: keys that are user data (environment variables) must not pass here.
 */
export function snakeCase<T>(value: T): unknown {
  if (Array.isArray(value)) return value.map((v) => snakeCase(v));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [snakeKey(k), snakeCase(v)]));
}
