// Personal intercepts over HTTP/2 through the real tunnel path on loopback: the fake manager's data
// port splices each intercept connection to a workstation server (framed, as the user daemon does),
// so the agent's upstream HTTP/2 session runs over a FramedDuplex. A gRPC-shaped streaming call
// whose server answers while the request still streams must come back whole: headers, every
// message in order, trailers.
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import { startAgent, type RunningAgent } from './run.js';
import { parseAgentEnv } from './settings.js';
import { FakeManager } from './testing/fake-manager.js';
import { freePort } from './testing/free-port.js';
import { testAgentEnv } from './testing/agent-env.js';

const log = createLogger('agent-test', { level: 'error', stream: process.stdout });
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** An h2c server that answers at once and echoes each DATA chunk as it comes, then trailers naming it. */
async function echoServer(name: string): Promise<number> {
  const s = http2.createServer();
  s.on('stream', (st) => {
    st.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-served-by': name }, { waitForTrailers: true });
    st.on('data', (d: Buffer) => st.write(d));
    st.on('end', () => st.end());
    st.on('wantTrailers', () => st.sendTrailers({ 'grpc-status': '0', 'grpc-message': name }));
    st.on('error', () => undefined);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => s.close(r)));
  return (s.address() as net.AddressInfo).port;
}

async function call(session: http2.ClientHttp2Session, headers: Record<string, string>, messages: Buffer[]): Promise<{ served: string; data: Buffer; status?: string }> {
  const st = session.request({ ':method': 'POST', ':path': '/demo.Echo/Call', 'content-type': 'application/grpc', ...headers });
  let served = '';
  let status: string | undefined;
  const data: Buffer[] = [];
  st.on('response', (h) => (served = String(h['x-served-by'])));
  st.on('trailers', (t) => (status = t['grpc-status'] as string));
  st.on('data', (d: Buffer) => data.push(d));
  for (const m of messages) {
    st.write(m);
    await new Promise((r) => setTimeout(r, 10));
  }
  st.end();
  await new Promise((r, j) => (st.once('end', r), st.once('error', j)));
  return { served, data: Buffer.concat(data), ...(status ? { status } : {}) };
}

describe('personal intercepts over HTTP/2 in the agent', () => {
  it('routes streaming calls per stream through the tunnel, headers, messages and trailers intact', async () => {
    const [appPort, wsPort] = [await echoServer('app'), await echoServer('alice')];
    const manager = new FakeManager(log);
    await manager.start();
    cleanup.push(() => manager.close());
    manager.tunnelMode = { kind: 'splice', workstationPort: wsPort };
    const dir = mkdtempSync(join(tmpdir(), 'tel-agent-h2-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'token'), 't\n');
    const agentPort = await freePort();
    const env = await testAgentEnv({ manager, appPort, agentPort, tokenPath: join(dir, 'token') });
    const agent: RunningAgent = await startAgent(parseAgentEnv(env), env, { log, listenHost: '127.0.0.1' });
    cleanup.push(() => agent.close(100));
    manager.setIntercepts([{ id: 'ia', agentPort, client: 'alice@a', filter: { headers: ['x-dev=alice'] } }]);
    for (const t0 = Date.now(); agent.control.routeFor(agentPort)?.kind !== 'personal'; await new Promise((r) => setTimeout(r, 5))) {
      if (Date.now() - t0 > 3000) throw new Error('the agent did not follow the intercept');
    }
    const session = http2.connect(`http://127.0.0.1:${agentPort}`);
    cleanup.push(() => session.close());
    const msgs = Array.from({ length: 5 }, (_, i) => Buffer.alloc(1000 * (i + 1), 97 + i));
    const [unary, streaming, other] = await Promise.all([call(session, { 'x-dev': 'alice' }, msgs.slice(0, 1)), call(session, { 'x-dev': 'alice' }, msgs), call(session, {}, msgs.slice(0, 2))]);
    expect(unary).toEqual({ served: 'alice', data: msgs[0], status: '0' });
    expect(streaming).toEqual({ served: 'alice', data: Buffer.concat(msgs), status: '0' });
    expect(other).toEqual({ served: 'app', data: Buffer.concat(msgs.slice(0, 2)), status: '0' });
  });
});
