// The error taxonomy shared by every process (CLI, user daemon, root daemon, traffic manager).
// Errors cross process boundaries as {category, message, hint} and map to exit codes here only.

/** Who has to act: the user (flags), their config files, the cluster/registry, or us (a bug). */
export type ErrorCategory = 'user' | 'config' | 'cluster' | 'bug';

/** Wire form of an error; what a daemon sends back to the CLI. */
export interface ErrorInfo {
  category: ErrorCategory;
  /** What happened, one line, no trailing period. */
  message: string;
  /** How to fix it, one line; empty when there is nothing the user can do. */
  hint: string;
}

export class TelError extends Error implements ErrorInfo {
  constructor(
    readonly category: ErrorCategory,
    message: string,
    readonly hint = '',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TelError';
  }

  toInfo(): ErrorInfo {
    return { category: this.category, message: this.message, hint: this.hint };
  }

  static fromInfo(info: ErrorInfo): TelError {
    return new TelError(info.category, info.message, info.hint);
  }
}

export const userError = (message: string, hint = '') => new TelError('user', message, hint);
export const configError = (message: string, hint = '') => new TelError('config', message, hint);
export const clusterError = (message: string, hint = '') => new TelError('cluster', message, hint);

/** Anything that is not a TelError is, by definition, something we did not anticipate. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof TelError) return err.toInfo();
  if (isErrorInfo(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return { category: 'bug', message, hint: '' };
}

function isErrorInfo(v: unknown): v is ErrorInfo {
  return typeof v === 'object' && v !== null && 'category' in v && 'message' in v && 'hint' in v;
}

/** The only place categories become exit codes. */
export const EXIT_CODES: Record<ErrorCategory, number> = { user: 2, config: 3, cluster: 4, bug: 70 };

/** One line for humans: "message; hint" (hint joined so a log grep finds both). */
export function formatError(info: ErrorInfo, logsDir?: string): string {
  if (info.category === 'bug') {
    const where = logsDir ? `; see the logs in ${logsDir}` : '';
    return `${info.message} (this is a bug${where})`;
  }
  return info.hint ? `${info.message}; ${info.hint}` : info.message;
}
