// `telepresence status`: what runs locally (daemons, their versions, logs). Session, routes and
// DNS join this output with the connect and DNS issues.
import type { RootDaemonContract, UserDaemonContract } from '@tel/contracts';
import { NotRunningError, connect } from '@tel/ipc';
import { buildVersion } from '@tel/version';
import { defineCommand } from '../command.js';
import { ROOT_DAEMON, USER_DAEMON } from '../daemons.js';

export const statusCommand = defineCommand({
  name: 'status',
  description: 'Show connectivity status',
  async run(ctx) {
    const get = async <T>(f: () => Promise<T>): Promise<T | null> => {
      try {
        return await f();
      } catch (err) {
        if (err instanceof NotRunningError) return null;
        throw err;
      }
    };
    const userDaemon = await get(async () => {
      const c = await connect<UserDaemonContract>(USER_DAEMON.socket(ctx.env), USER_DAEMON.name);
      try {
        return await c.status({}, { timeoutMs: 5000 });
      } finally {
        c.close();
      }
    });
    const rootDaemon = await get(async () => {
      const c = await connect<RootDaemonContract>(ROOT_DAEMON.socket(ctx.env), ROOT_DAEMON.name);
      try {
        return await c.status({}, { timeoutMs: 5000 });
      } finally {
        c.close();
      }
    });
    ctx.out.result({ client: { version: buildVersion }, userDaemon, rootDaemon }, () => {
      const lines = [`Client: ${buildVersion}`];
      for (const [name, s] of [['User Daemon', userDaemon], ['Root Daemon', rootDaemon]] as const) {
        lines.push(s ? `${name}: Running\n  Version: ${s.version.version}\n  Log   : ${s.logFile}` : `${name}: Not running`);
      }
      return lines.join('\n');
    });
  },
});
