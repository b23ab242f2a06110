// `telepresence version`: Client, User Daemon and Root Daemon, each with its API version. Does not
// start daemons (as in 2.x); a running daemon of another version is flagged and the exit is non-zero.
import type { DaemonVersion, SessionInfo, UserDaemonContract } from '@tel/contracts';
import { API_VERSIONS, buildVersion, formatComponent, mismatchMessage } from '@tel/version';
import { defineCommand } from '../command.js';
import { ROOT_DAEMON, USER_DAEMON, probe, quitHint } from '../daemons.js';
import { connect, QUICK_CALL_TIMEOUT_MS } from '@tel/ipc';
import { imageTag } from '../../install/manifests.js';

/** The user daemon's session, if it has one (never starts anything). */
async function sessionOf(env: NodeJS.ProcessEnv): Promise<SessionInfo | null> {
  const client = await connect<UserDaemonContract>(USER_DAEMON.socket(env), USER_DAEMON.name).catch(() => undefined);
  try {
    return (await client?.sessionStatus({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS }))?.session ?? null;
  } catch {
    return null;
  } finally {
    client?.close();
  }
}

interface Row {
  name: string;
  version: string | null;
  apiVersion: number | null;
  running: boolean;
  mismatch: boolean;
}

export const versionCommand = defineCommand({
  name: 'version',
  description: 'Show the version of the client and of each daemon',
  requires: 'none',
  async run(ctx) {
    const rows: Row[] = [{ name: 'Client', version: buildVersion, apiVersion: API_VERSIONS.userDaemon, running: true, mismatch: false }];
    const mismatches: string[] = [];
    for (const kind of [ROOT_DAEMON, USER_DAEMON]) {
      const v: DaemonVersion | undefined = await probe(kind, ctx.env);
      const mismatch = v !== undefined && v.version !== buildVersion;
      if (v && mismatch) mismatches.push(mismatchMessage(buildVersion, v));
      rows.push({ name: kind.name, version: v?.version ?? null, apiVersion: v?.apiVersion ?? null, running: !!v, mismatch });
    }
    // Connected: the cluster side as the manager declares it (the agent it injects is its own image).
    const userDaemon = rows.find((r) => r.name === USER_DAEMON.name);
    if (userDaemon?.running && !userDaemon.mismatch) {
      const s = await sessionOf(ctx.env);
      if (s) {
        const m = s.managerVersion;
        rows.push({ name: 'Traffic Manager', version: m.version, apiVersion: m.apiVersion, running: true, mismatch: false });
        if (m.agentImage) rows.push({ name: 'Traffic Agent', version: imageTag(m.agentImage) ?? m.agentImage, apiVersion: m.apiVersion, running: true, mismatch: false });
      }
    }
    ctx.out.result({ components: rows, mismatches }, () => {
      const width = Math.max(...rows.map((r) => r.name.length));
      return rows
        .map((r) => {
          const value = r.running ? formatComponent({ name: r.name, version: r.version!, apiVersion: r.apiVersion! }) : 'not running';
          return `${r.name.padEnd(width)}: ${value}${r.mismatch ? '  <- version mismatch' : ''}`;
        })
        .join('\n');
    });
    for (const m of mismatches) ctx.out.error(`${m}; ${quitHint}`);
    return mismatches.length ? 2 : 0;
  },
});
