// The manager route table: one route per method (the type makes that so), no two on one path, and
// the shape rules of each kind (a watch is POST; GET only for methods without a request body).
import { describe, expect, it } from 'vitest';
import { MANAGER_CAPABILITIES, MANAGER_RAW_ROUTES, MANAGER_ROUTES } from './index.js';

describe('MANAGER_ROUTES', () => {
  it('no two methods or raw routes share an HTTP method and path', () => {
    const keys = [
      ...Object.values(MANAGER_ROUTES).map((r) => `${r.kind === 'watch' ? 'POST' : r.http} ${r.path}`),
      ...Object.values(MANAGER_RAW_ROUTES).map((r) => `${r.http} ${r.path}`),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('GET only for methods whose request is empty', () => {
    const gets = Object.entries(MANAGER_ROUTES).filter(([, r]) => r.kind === 'unary' && r.http === 'GET').map(([name]) => name);
    expect(gets.sort()).toEqual(['clusterInfo', 'listSessions', 'stats', 'version']);
  });

  it('capability names are unique', () => {
    expect(new Set(MANAGER_CAPABILITIES).size).toBe(MANAGER_CAPABILITIES.length);
  });
});
