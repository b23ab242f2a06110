import { describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import { managerAddress } from './manager-address.js';

describe('managerAddress', () => {
  it('an IP literal is used as is; a name is resolved once and then served from memory', async () => {
    expect(managerAddress('10.1.2.3', createLogger(undefined)).get()).toBe('10.1.2.3');
    const a = managerAddress('localhost', createLogger(undefined));
    await a.refresh();
    expect(a.get()).toBe('127.0.0.1');
    a.stop();
  });

  it('a name that does not resolve is dialled by name', async () => {
    const a = managerAddress('no-such-host.invalid', createLogger(undefined));
    await a.refresh();
    expect(a.get()).toBe('no-such-host.invalid');
    a.stop();
  });
});
