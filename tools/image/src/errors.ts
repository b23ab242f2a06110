// ImageError: the one error type @tel/image throws for anything a person can act on.
// It follows the house taxonomy ({category, message, hint}) so callers can forward it across process boundaries.

/**
 * The house taxonomy: user (bad input), config (credentials, env), cluster (the registry or what runs it
 * failed), bug (us). Same names as @tel/errors so callers map it to exit codes in their one place.
 */
export type ImageErrorCategory = 'user' | 'config' | 'cluster' | 'bug';

/** Exit codes per category, identical to @tel/errors' EXIT_CODES. */
export const IMAGE_EXIT_CODES: Record<ImageErrorCategory, number> = { user: 2, config: 3, cluster: 4, bug: 70 };

/** Stable machine-readable codes, so callers and tests branch on a code, not on message text. */
export type ImageErrorCode =
  | 'INVALID_REF'
  | 'INVALID_SPEC'
  | 'UNREACHABLE'
  | 'CONNECTION_DROPPED'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'NOT_FOUND'
  | 'BASE_NOT_FOUND'
  | 'MANIFEST_REJECTED'
  | 'BLOB_REJECTED'
  | 'REGISTRY_ERROR'
  | 'UNSUPPORTED'
  | 'ABORTED'
  | 'HOST_FILE';

export class ImageError extends Error {
  /** How to fix it, phrased as an action. */
  readonly hint: string;
  readonly code: ImageErrorCode;
  readonly category: ImageErrorCategory;

  constructor(
    message: string,
    hint: string,
    opts: { code: ImageErrorCode; category?: ImageErrorCategory; cause?: unknown },
  ) {
    super(oneLine(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ImageError';
    this.hint = oneLine(hint);
    this.code = opts.code;
    this.category = opts.category ?? 'user';
  }

  /** The single line a person sees: what failed; how to fix it. */
  get line(): string {
    return this.hint ? `${this.message}; ${this.hint}` : this.message;
  }

  toJSON(): { category: ImageErrorCategory; code: ImageErrorCode; message: string; hint: string } {
    return { category: this.category, code: this.code, message: this.message, hint: this.hint };
  }
}

/** Registries return multi-line details; a person-facing error must stay on one line and stay short. */
export function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
