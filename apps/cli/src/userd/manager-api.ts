// Boundary: user daemon → traffic manager API (HTTP/2 cleartext, manager.ts), reached through the
// port-forward unix socket. Every call is bounded by timeouts.trafficManagerAPI.
import http2 from 'node:http2';
import net from 'node:net';
import type { ClusterInfo, ManagerVersion } from '@tel/contracts';
import { clusterError } from '@tel/errors';
import { timeoutError, withTimeout } from './timeouts.js';

export class ManagerApi {
  private session: http2.ClientHttp2Session | undefined;

  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs: number,
    private readonly configFile: string,
  ) {}

  version(): Promise<ManagerVersion> {
    return this.getJson<ManagerVersion>('/version');
  }

  clusterInfo(): Promise<ClusterInfo> {
    return this.getJson<ClusterInfo>('/cluster-info');
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }

  private connection(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const s = http2.connect('http://traffic-manager', { createConnection: () => net.connect(this.socketPath) });
    s.on('error', () => undefined); // surfaced per request
    s.on('close', () => {
      if (this.session === s) this.session = undefined;
    });
    this.session = s;
    return s;
  }

  async getJson<T>(path: string): Promise<T> {
    let req: http2.ClientHttp2Stream | undefined;
    const call = new Promise<T>((resolve, reject) => {
      const session = this.connection();
      const onSessionError = (e: Error) => reject(clusterError(`the traffic manager API failed on GET ${path}: ${e.message}`, 'check the traffic manager with kubectl logs'));
      session.once('error', onSessionError);
      req = session.request({ ':method': 'GET', ':path': path });
      let status = 0;
      let body = '';
      req.setEncoding('utf8');
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (d: string) => (body += d));
      req.on('error', (e) => reject(clusterError(`the traffic manager API failed on GET ${path}: ${e.message}`, 'check the traffic manager with kubectl logs')));
      req.on('end', () => {
        session.off('error', onSessionError);
        if (status !== 200) {
          reject(clusterError(`the traffic manager answered ${status} to GET ${path}: ${body.trim().slice(0, 200)}`, 'check that the traffic manager matches this client version'));
          return;
        }
        try {
          resolve(JSON.parse(body) as T);
        } catch {
          reject(clusterError(`the traffic manager sent invalid JSON for GET ${path}`, 'check that the traffic manager matches this client version'));
        }
      });
      req.end();
    });
    return withTimeout(call, this.timeoutMs, () => timeoutError('trafficManagerAPI', this.timeoutMs, this.configFile, `GET ${path}`), () => {
      req?.close(http2.constants.NGHTTP2_CANCEL);
      // A stuck connection is useless for the next call too.
      this.session?.destroy();
      this.session = undefined;
    });
  }
}
