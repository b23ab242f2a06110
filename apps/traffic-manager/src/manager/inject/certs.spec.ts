import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { generateWebhookTls, RENEW_BEFORE_MS, tlsProblem, webhookDnsNames } from './certs.js';

const tls = generateWebhookTls('ambassador');

describe('generateWebhookTls', () => {
  it('a TLS client that trusts only the CA accepts the server under both Service names', async () => {
    const server = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const get = (servername: string) =>
        new Promise<string>((resolve, reject) => {
          https.get({ host: '127.0.0.1', port, servername, ca: tls.caPem, headers: { host: servername } }, (res) => {
            let body = '';
            res.on('data', (d) => (body += d)).on('end', () => resolve(body));
          }).on('error', reject);
        });
      for (const name of webhookDnsNames('ambassador')) expect(await get(name)).toBe('ok');
      await expect(get('traffic-manager.other.svc')).rejects.toThrow(/altnames/);
    } finally {
      server.close();
    }
  });
});

describe('tlsProblem', () => {
  it('a fresh certificate is fine', () => expect(tlsProblem(tls, 'ambassador')).toBeUndefined());
  it.each<[string, () => string | undefined, RegExp]>([
    ['another namespace', () => tlsProblem(tls, 'other'), /lacks traffic-manager\.other\.svc, traffic-manager\.other\.svc\.cluster\.local/],
    ['expiring within 30 days', () => tlsProblem(tls, 'ambassador', new Date(Date.now() + 366 * 86_400_000 - RENEW_BEFORE_MS)), /serving certificate expires/],
    ['a key of another certificate', () => tlsProblem({ ...tls, keyPem: generateWebhookTls('ambassador').keyPem }, 'ambassador'), /key does not match/],
    ['signed by another CA', () => tlsProblem({ ...tls, caPem: generateWebhookTls('ambassador').caPem }, 'ambassador'), /not signed by the CA/],
    ['garbage', () => tlsProblem({ ...tls, certPem: 'x' }, 'ambassador'), /unreadable certificate/],
  ])('%s', (_name, check, want) => expect(check()).toMatch(want));
});
