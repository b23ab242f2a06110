// The help text of the everyday commands (loglevel, gather-logs, config view, list-namespaces,
// completion): part of the interface, so it is snapshotted.
import { describe, expect, it } from 'vitest';
import { tp } from './testing/tp.js';

describe('everyday commands help', () => {
  it.each([['loglevel'], ['gather-logs'], ['config'], ['config', 'view'], ['list-namespaces'], ['completion']])('%s --help', async (...cmd) => {
    const r = await tp({ XDG_CONFIG_HOME: '/nonexistent' }, [...cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchSnapshot();
  });
});
