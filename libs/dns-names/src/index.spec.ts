import { describe, expect, it } from 'vitest';
import { isIcannPublicSuffix } from './index.js';

describe('isIcannPublicSuffix', () => {
  it.each([
    ['rs', true],
    ['im', true],
    ['dev', true],
    ['com', true],
    ['io', true],
    ['co.uk', true],
    ['default', false],
    ['kube-system', false],
    ['staging', false],
    ['my-app', false],
    ['local', false],
    ['cluster', false],
    ['ambassador', false],
    ['argocd', false],
    // Private section (not a TLD) and a name under a suffix (not itself one).
    ['github.io', false],
    ['docs.rs', false],
  ])('%s: %s', (label, yes) => {
    expect(isIcannPublicSuffix(label)).toBe(yes);
  });
});
