// The CLI's output layer, the only place that writes to the terminal: human text by default,
// one JSON document with --output json, progress only on a TTY.

export type OutputFormat = 'text' | 'json';

export class Output {
  constructor(
    readonly format: OutputFormat,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  ) {}

  get json(): boolean {
    return this.format === 'json';
  }

  /** A line for humans; suppressed in json mode, where `result` carries the data. */
  line(text: string): void {
    if (!this.json) this.stdout.write(text + '\n');
  }

  /** The command's result: printed as JSON in json mode, rendered by `human` otherwise. */
  result(data: unknown, human: () => string): void {
    if (this.json) this.stdout.write(JSON.stringify(data) + '\n');
    else this.stdout.write(human() + '\n');
  }

  /** Something the user should know that is not the result (e.g. a daemon was replaced). */
  notice(text: string): void {
    this.stderr.write(text + '\n');
  }

  /** Progress of a long operation: on a TTY only, never in CI logs or json output. */
  progress(text: string): void {
    if (this.stderr.isTTY && !process.env.CI) this.stderr.write(`\r\x1b[K${text}`);
  }

  progressDone(): void {
    if (this.stderr.isTTY && !process.env.CI) this.stderr.write('\r\x1b[K');
  }

  error(text: string): void {
    this.stderr.write(`telepresence: error: ${text}\n`);
  }
}
