import { describe, expect, it } from 'vitest';
import { checkCompatibility } from './policy.js';

const client = (version: string, apiVersion = 1) => ({ version, apiVersion });

describe('compatibility policy', () => {
  it.each([
    // client, manager version, manager api, verdict
    ['v2.5.4', 'v2.5.4', 1, 'same'],
    ['v2.5.4', 'v2.5.4', undefined, 'same'],
    ['v0.0.0-dev', 'v0.0.0-dev', undefined, 'same'],
    ['v2.5.3', 'v2.5.4', 1, 'compatible'],
    ['v2.5.4', 'v2.5.4-2-g8ccf3c9d', 1, 'compatible'],
    ['v2.5.4-dirty-abc', 'v2.5.0', 1, 'compatible'],
    ['v2.5.4', 'v2.5.3', 2, 'incompatible'],
    ['v2.5.4', 'v2.5.3', undefined, 'incompatible'],
    ['v2.5.4', 'v2.6.0', 1, 'incompatible'],
    ['v2.5.4', 'v3.5.4', 1, 'incompatible'],
    ['v0.0.0-12-gabc', 'v0.0.0-13-gdef', 1, 'incompatible'],
    ['v0.1.0', 'v0.1.1', 1, 'incompatible'],
    ['v2.5.4', 'latest', 1, 'incompatible'],
    ['v2.5.4', '', 1, 'incompatible'],
  ] as const)('client %s, manager %s (api %s) → %s', (c, m, api, verdict) => {
    const r = checkCompatibility(client(c), { version: m, ...(api !== undefined ? { apiVersion: api } : {}) });
    expect(r.verdict).toBe(verdict);
  });

  it('the warning names both versions and the shared series', () => {
    const r = checkCompatibility(client('v2.5.3'), { version: 'v2.5.4', apiVersion: 1 });
    expect(r).toEqual({ verdict: 'compatible', warning: 'Traffic Manager v2.5.4 differs from this client v2.5.3; connecting anyway (same 2.5 series, API v1)' });
  });

  it('the refusal says why', () => {
    expect(checkCompatibility(client('v2.5.4'), { version: 'v2.6.0', apiVersion: 1 })).toEqual({ verdict: 'incompatible', reason: 'v2.6.0 and v2.5.4 are different release series' });
    expect(checkCompatibility(client('v2.5.4'), { version: 'v2.5.0', apiVersion: 2 })).toEqual({ verdict: 'incompatible', reason: 'the manager speaks API v2, this client v1' });
  });
});
