// The manager API client against a real h2c server on a unix socket (what the port-forward
// socket looks like to the user daemon).
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatError, type TelError } from '@tel/errors';
import { ManagerApi } from './manager-api.js';

let dir: string;
let server: http2.Http2Server;
let socket: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tel-mapi-'));
  socket = join(dir, 'manager.socket');
  server = http2.createServer((req, res) => {
    if (req.url === '/version') res.end(JSON.stringify({ name: 'Traffic Manager', version: 'v2.90.0', apiVersion: 1 }));
    else if (req.url === '/cluster-info') res.end(JSON.stringify({ podSubnets: ['10.0.0.0/16'], serviceSubnets: ['10.96.0.0/12'], clusterDomain: 'cluster.local' }));
    else if (req.url === '/slow') return; // never answers
    else res.writeHead(404).end('no such path');
  });
  await new Promise<void>((r) => server.listen(socket, r));
});

afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ManagerApi', () => {
  it('gets version and cluster info over one HTTP/2 connection', async () => {
    const api = new ManagerApi(socket, 2000, '/cfg.yml');
    expect(await api.version()).toEqual({ name: 'Traffic Manager', version: 'v2.90.0', apiVersion: 1 });
    expect((await api.clusterInfo()).podSubnets).toEqual(['10.0.0.0/16']);
    api.close();
  });

  it('times out with a message naming timeouts.trafficManagerAPI, and recovers for the next call', async () => {
    const api = new ManagerApi(socket, 200, '/home/u/.config/telepresence/config.yml');
    const err = (await api.getJson('/slow').catch((e: unknown) => e)) as TelError;
    expect(formatError(err.toInfo())).toBe('the traffic manager API timed out after 200ms (GET /slow); raise timeouts.trafficManagerAPI in /home/u/.config/telepresence/config.yml');
    expect((await api.version()).version).toBe('v2.90.0');
    api.close();
  });

  it('reports a non-200 answer with the status', async () => {
    const api = new ManagerApi(socket, 2000, '/cfg.yml');
    await expect(api.getJson('/nope')).rejects.toMatchObject({ category: 'cluster', message: 'the traffic manager answered 404 to GET /nope: no such path' });
    api.close();
  });
});
