// The CLI's output layer, the only place that writes to the terminal: human text by default,
// one JSON document with --output json, spinners on a TTY, progress events as plain lines otherwise.
import type { ProgressEvent } from '@tel/contracts';

export type OutputFormat = 'text' | 'json';

export class Output {
  /** Progress events of this command, for the json document; undefined until it reports any. */
  private collected: ProgressEvent[] | undefined;

  constructor(
    readonly format: OutputFormat,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  ) {}

  get json(): boolean {
    return this.format === 'json';
  }

  private get live(): boolean {
    return !!this.stderr.isTTY && !process.env.CI;
  }

  /** A line for humans; suppressed in json mode, where `result` carries the data. */
  line(text: string): void {
    if (!this.json) this.stdout.write(text + '\n');
  }

  /**
   * The command's result: printed as JSON in json mode, rendered by `human` otherwise. In json
   * mode a command that reports progress (`events()`) gets its events as the `events` array.
   */
  result(data: object, human: () => string): void {
    if (this.json) this.stdout.write(JSON.stringify(this.collected ? { ...data, events: this.collected } : data) + '\n');
    else this.stdout.write(human() + '\n');
  }

  /** The json document of a failed command. */
  errorDocument(error: object): void {
    this.stdout.write(JSON.stringify(this.collected ? { error, events: this.collected } : { error }) + '\n');
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

  error(text: string): void {
    this.stderr.write(`telepresence: error: ${text}\n`);
  }
}
