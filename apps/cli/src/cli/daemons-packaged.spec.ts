// How the single executable starts its daemons (daemonCommand with packaged = true): itself with
// a hidden command, V8 flags where a single executable can take them.
import { describe, expect, it } from 'vitest';
import { ROOT_DAEMON_V8_FLAGS, USER_DAEMON_V8_FLAGS } from '../paths.js';
import { ROOT_DAEMON, USER_DAEMON, daemonCommand } from './daemons.js';

describe('daemonCommand in the single executable', () => {
  it('runs the executable itself as the root daemon with daemon-foreground, env untouched', () => {
    const env = { HOME: '/home/u' };
    const c = daemonCommand(ROOT_DAEMON, env, true);
    expect(c).toEqual({ execPath: process.execPath, args: ['daemon-foreground'], env });
  });

  it('runs connector-foreground, every V8 flag either in NODE_OPTIONS or in TELEPRESENCE_V8_FLAGS', () => {
    const c = daemonCommand(USER_DAEMON, { NODE_OPTIONS: '--trace-warnings' }, true);
    expect(c.execPath).toBe(process.execPath);
    expect(c.args).toEqual(['connector-foreground']);
    expect(c.env.NODE_OPTIONS).toBe('--trace-warnings --max-semi-space-size=2');
    expect(c.env.TELEPRESENCE_V8_FLAGS).toBe('--heap-growing-percent=100 --no-icu-timezone-data');
    const carried = [...c.env.NODE_OPTIONS!.split(' '), ...c.env.TELEPRESENCE_V8_FLAGS!.split(' ')];
    for (const flag of USER_DAEMON_V8_FLAGS) expect(carried).toContain(flag);
  });

  it('outside the single executable runs the bundle under node as before', () => {
    const c = daemonCommand(USER_DAEMON, {}, false);
    expect(c.args).toContain('connector-foreground');
    expect(c.args).toContain(process.argv[1]);
    expect(c.env.TELEPRESENCE_V8_FLAGS).toBeUndefined();
  });

  it("outside the single executable gives node each daemon's V8 flags before the script", () => {
    const user = daemonCommand(USER_DAEMON, {}, false).args;
    expect(user.slice(0, user.indexOf(process.argv[1]!))).toEqual(expect.arrayContaining([...USER_DAEMON_V8_FLAGS]));
    const root = daemonCommand(ROOT_DAEMON, {}, false).args;
    const script = root.findIndex((a) => /root-daemon/.test(a));
    expect(script).toBeGreaterThan(0);
    expect(root.slice(0, script)).toEqual(expect.arrayContaining([...ROOT_DAEMON_V8_FLAGS]));
  });
});
