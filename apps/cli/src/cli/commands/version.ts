// `telepresence version`: Client, User Daemon and Root Daemon, each with its API version. Does not
// start daemons (as in 2.x); a running daemon of another version is flagged and the exit is non-zero.
import type { DaemonVersion } from '@tel/contracts';
import { API_VERSIONS, buildVersion, formatComponent, mismatchMessage } from '@tel/version';
import { defineCommand } from '../command.js';
import { ROOT_DAEMON, USER_DAEMON, probe, quitHint } from '../daemons.js';

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
