import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { defaultLayout } from './layout.js';
import { checkPrereqs, formatMissing } from './prereqs.js';

describe('prerequisites', () => {
  it('formats a missing piece as one line naming it and how to get it', () => {
    expect(formatMissing({ what: '/usr/bin/etcd', hint: 'apt-get install etcd-server' })).toBe('missing /usr/bin/etcd: apt-get install etcd-server');
  });

  it('refuses a state dir the node would hide behind its tmpfs', async () => {
    const l = defaultLayout({ HOME: '/root', TPTC_STATE_DIR: '/var/lib/tptc' });
    const lines = (await checkPrereqs(l, { checkPorts: false })).map(formatMissing);
    expect(lines).toContainEqual(expect.stringMatching(/^missing a state dir outside \/var\/lib\/ .*: set TPTC_STATE_DIR/));
  });

  it('names a busy registry port', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const l = defaultLayout({ HOME: '/root', TPTC_REGISTRY_PORT: String(port) });
      const lines = (await checkPrereqs(l, { checkPorts: true })).map(formatMissing);
      expect(lines).toContainEqual(`missing free port 127.0.0.1:${port} (registry forwarder): stop whatever listens there (ss -ltnp 'sport = :${port}') or set TPTC_REGISTRY_PORT`);
    } finally {
      srv.close();
    }
  });
});
