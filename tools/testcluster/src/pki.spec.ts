import { describe, expect, it } from 'vitest';
import { clusterCerts, extensions, subject } from './pki.js';

describe('pki', () => {
  it('gives the API server every name clients use', () => {
    const api = clusterCerts().find((c) => c.name === 'apiserver')!;
    const ext = extensions(api);
    for (const san of ['IP:198.19.0.1', 'IP:198.18.0.1', 'DNS:kubernetes.default.svc.cluster.local']) expect(ext).toContain(san);
    expect(ext).toContain('extendedKeyUsage=serverAuth');
  });

  it.each([
    ['kubelet', '/O=system:nodes/CN=system:node:tptc-node'],
    ['admin', '/O=system:masters/CN=tptc-admin'],
    ['developer', '/CN=developer'],
    ['kube-proxy', '/CN=system:kube-proxy'],
  ])('subject of %s is %s', (name, want) => {
    expect(subject(clusterCerts().find((c) => c.name === name)!)).toBe(want);
  });

  it('issues client certificates without SANs', () => {
    const ext = extensions(clusterCerts().find((c) => c.name === 'developer')!);
    expect(ext).not.toContain('subjectAltName');
    expect(ext).toContain('extendedKeyUsage=clientAuth');
  });
});
