import { describe, expect, it } from 'vitest';
import { EXIT_CODES, TelError, formatError, toErrorInfo, userError } from './index.js';

describe('error taxonomy', () => {
  it('keeps category, message and hint across a JSON round trip', () => {
    const err = userError('invalid flag --foo', "run 'telepresence help'");
    const back = TelError.fromInfo(JSON.parse(JSON.stringify(err.toInfo())));
    expect(back.toInfo()).toEqual({ category: 'user', message: 'invalid flag --foo', hint: "run 'telepresence help'" });
  });

  it('classifies unknown errors as bugs and points at the logs', () => {
    const info = toErrorInfo(new TypeError('x is undefined'));
    expect(info.category).toBe('bug');
    expect(formatError(info, '/tmp/logs')).toBe('x is undefined (this is a bug; see the logs in /tmp/logs)');
  });

  it('maps every category to a distinct non-zero exit code', () => {
    const codes = Object.values(EXIT_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes.every((c) => c > 0)).toBe(true);
  });

  it('joins message and hint on one line', () => {
    expect(formatError(userError('a', 'b'))).toBe('a; b');
    expect(formatError(userError('a'))).toBe('a');
  });
});
