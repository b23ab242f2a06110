// The agent's path for connections nobody intercepts (or whose intercept refused them): a plain
// byte copy to the app container on the pod's loopback, both ways, half-close passed on, a reset
// passed on as a reset. The app socket reads through the read pool (@tel/tcp-wire read-pool.ts).
import type net from 'node:net';
import { connectPooled, releaseChunk } from '@tel/tcp-wire';

export interface AppProxyOptions {
  appHost: string;
  appPort: number;
  /** Bytes already read from `client` (kept while an intercept was tried): written first, in order. */
  kept?: Buffer[];
  /** `client`'s end was already read (its FIN came while an intercept was tried). */
  clientEnded?: boolean;
}

/**
 * Takes over `client` (accepted paused, allowHalfOpen, with an 'error' listener) and copies it to
 * and from a new connection to appHost:appPort. The app refusing resets the client, so it sees
 * what it would have seen without the agent.
 */
export function proxyToApp(client: net.Socket, opts: AppProxyOptions): void {
  const app = connectPooled({ host: opts.appHost, port: opts.appPort, allowHalfOpen: true, noDelay: true });
  let clientEnded = opts.clientEnded === true;
  let appEnded = false;
  let appFailed = false;
  app.on('error', () => (appFailed = true));
  if (opts.kept?.length) {
    app.cork();
    for (const c of opts.kept) app.write(c);
    app.uncork();
  }
  if (clientEnded) app.end();

  // client → app
  const resumeClient = () => {
    if (!client.destroyed) client.resume();
  };
  const onClientData = (c: Buffer) => {
    if (!app.write(c)) {
      client.pause();
      app.once('drain', resumeClient);
    }
  };
  // app → client; pooled chunks go back to the pool once written
  const resumeApp = () => {
    if (!app.destroyed) app.resume();
  };
  const release = (c: Buffer) => () => releaseChunk(c);
  app.on('data', (c: Buffer) => {
    if (!client.write(c, release(c))) {
      app.pause();
      client.once('drain', resumeApp);
    }
  });
  app.on('end', () => {
    appEnded = true;
    client.end();
  });
  // A close before both directions ended is an abort: pass it on (a reset for a reset).
  app.on('close', () => {
    if (client.destroyed || (appEnded && clientEnded)) return;
    if (appFailed) client.resetAndDestroy();
    else client.destroy();
  });
  let clientFailed = false;
  client.on('error', () => (clientFailed = true));
  client.on('close', () => {
    if (app.destroyed || (appEnded && clientEnded)) return;
    if (clientFailed && !app.connecting) app.resetAndDestroy();
    else app.destroy();
  });
  if (!clientEnded) {
    client.on('data', onClientData);
    client.on('end', () => {
      clientEnded = true;
      app.end();
    });
  }
  client.setNoDelay(true);
  client.resume();
}
