import { describe, expect, it } from 'vitest';
import { buildVersion } from '@tel/version';
import { renderStatus, type StatusDoc } from './status.js';

const daemon = (name: string) => ({ version: { name, version: buildVersion, apiVersion: 1, pid: 1, idle: false }, logFile: '/l', uptimeSeconds: 1 });

describe('renderStatus', () => {
  it("lists the session's intercepts with where they go and their state", () => {
    const doc: StatusDoc = {
      client: { version: buildVersion },
      userDaemon: daemon('User Daemon'),
      rootDaemon: null,
      session: { context: 'c', server: 's', namespace: 'default', managerNamespace: 'ambassador', managerVersion: { version: buildVersion, apiVersion: 1 } } as never,
      portForward: null,
      network: null,
      intercepts: [
        { id: '1', spec: { name: 'web', namespace: 'shop', workload: 'web', workloadKind: 'Deployment', localPort: 3000 }, sessionId: 's', client: { user: 'u', host: 'h' }, state: 'active', service: 'web', servicePort: 80, servicePortName: 'http' },
        { id: '2', spec: { name: 'db', namespace: 'shop', workload: 'db', localPort: 5432 }, sessionId: 's', client: { user: 'u', host: 'h' }, state: 'installing', message: 'rollout of statefulset/db: 0/1 pods ready with the agent' },
      ],
    };
    const text = renderStatus(doc);
    expect(text).toContain('  Intercepts        : 2 total\n    - web: deployment/web in shop, web:http → 127.0.0.1:3000, ACTIVE\n    - db: workload/db in shop, ?:? → 127.0.0.1:5432, INSTALLING: rollout of statefulset/db: 0/1 pods ready with the agent');
  });
});
