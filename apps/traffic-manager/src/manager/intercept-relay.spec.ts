// The manager's side of intercepted connections with real sockets on loopback: which park an
// agent's connection gets (newest first, older port-forward generations retired) and what a park
// of an older port-forward connection is worth (nothing: it is retired).
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_TUNNEL_PREFIX, TUNNEL_DIAL_PREFIX } from '@tel/contracts';
import { createLogger } from '@tel/logging';
import { readLine } from '@tel/tcp-wire';
import { ParkedConnections, startAgentTunnel, type AgentTunnelServer } from './intercept-relay.js';
import { startTcpStreamServer } from './tcp-stream.js';
import type { AgentStore } from './state/agents.js';
import type { InterceptStore } from './state/intercepts.js';

const log = createLogger('manager', { level: 'error', stream: process.stdout });
const workload = { namespace: 'shop', kind: 'Deployment' as const, name: 'web' };
const agents = { find: (id: string) => (id === 'agent-1' ? { workload } : undefined) } as unknown as AgentStore;
const intercepts = { activeFor: (id: string) => (id === 'icpt-1' ? { sessionId: 's1', client: { user: 'ann', host: 'lap' } } : undefined) } as unknown as InterceptStore;

let parkServer: net.Server | undefined;
let tunnel: AgentTunnelServer | undefined;
const opened: net.Socket[] = [];

afterEach(async () => {
  for (const s of opened) s.destroy();
  opened.length = 0;
  await tunnel?.close();
  parkServer?.close();
});

/**
 * A user daemon's end of parks: each `park(gen, behaviour)` opens a connection whose manager end
 * is parked as `s1 <gen>`. 'watch' only holds it,
 * 'live' answers OK and echoes what came after the dial line.
 */
async function setup() {
  const parked = new ParkedConnections((id) => id === 's1');
  const accepted: net.Socket[] = [];
  parkServer = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (c) => accepted.push(c));
  await new Promise<void>((r) => parkServer!.listen(0, '127.0.0.1', r));
  const port = (parkServer.address() as net.AddressInfo).port;
  const seen: string[] = [];
  const park = async (generation: number, behaviour: 'live' | 'watch', name: string) => {
    const before = accepted.length;
    const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    opened.push(c);
    c.on('error', () => undefined);
    await expect.poll(() => accepted.length).toBe(before + 1);
    parked.park(accepted[before]!, { sessionId: 's1', generation });
    if (behaviour === 'live') {
      void readLine(c, 256, 0).then(({ line, rest }) => {
        seen.push(`${name} ${line}`);
        c.write('OK\n');
        c.write(rest);
        c.on('data', (d: Buffer) => c.write(d));
      }, () => undefined);
    }
    return c;
  };
  tunnel = await startAgentTunnel({ port: 0, host: '127.0.0.1', agents, intercepts, parked, log });
  return { parked, park, seen };
}

/** An agent's intercepted connection: its line and early bytes; resolves with all it got back. */
function agentConnection(port: number, early: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1' });
    opened.push(c);
    let got = '';
    c.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes(early)) {
        c.end();
        resolve(got);
      }
    });
    c.on('error', reject);
    c.on('close', () => resolve(got));
    c.write(`${AGENT_TUNNEL_PREFIX} agent-1 icpt-1 10.1.2.3 4444\n${early}`);
  });
}

describe('parked connections for intercepts', () => {
  it('hands out the newest park first (an older one may have come through a port-forward connection that is gone)', async () => {
    const { park, seen } = await setup();
    await park(1, 'live', 'old');
    await park(1, 'live', 'newer');
    const got = await agentConnection(tunnel!.port, 'hello');
    expect(got).toBe('OK\nhello');
    expect(seen).toEqual([`newer ${TUNNEL_DIAL_PREFIX} icpt-1 10.1.2.3 4444`]);
    expect(tunnel!.stats()).toMatchObject({ total: 1, refused: 0 });
  });

  it('a park of a newer port-forward generation retires the idle parks of older ones with ERR', async () => {
    const { parked, park } = await setup();
    const a = await park(1, 'watch', 'a');
    const b = await park(1, 'watch', 'b');
    expect(parked.count()).toBe(2);
    const lines = Promise.all([a, b].map((c) => readLine(c, 256, 2000).then((r) => r.line)));
    await park(2, 'live', 'c');
    expect(await lines).toEqual(['ERR retired: parked through an older port-forward connection', 'ERR retired: parked through an older port-forward connection']);
    expect(parked.count()).toBe(1);
    // An older generation arriving late is kept (it may be alive) but never retires newer ones.
    await park(1, 'watch', 'late');
    expect(parked.count()).toBe(2);
  });

  it('a park line without a generation is refused in one line by the TCP tunnel port', async () => {
    const parked = new ParkedConnections(() => true);
    const tcp = await startTcpStreamServer({ port: 0, dialTimeoutMs: 1000, log, onPark: (c, park) => parked.park(c, park) });
    try {
      const c = net.connect({ port: tcp.port, host: '127.0.0.1' });
      opened.push(c);
      c.write('TEL-PARK/1 s1\n');
      expect((await readLine(c, 256, 2000)).line).toBe('ERR park line must be "TEL-PARK/1 <sessionId> <generation>"');
      expect(parked.count()).toBe(0);
    } finally {
      await tcp.close();
    }
  });
});
