import { describe, expect, it } from 'vitest';
import { isDns1123Label, isIcannPublicSuffix } from './index.js';

describe('isDns1123Label', () => {
  it.each([
    ['default', true],
    ['kube-system', true],
    ['a', true],
    ['0', true],
    ['a1-b2', true],
    ['x'.repeat(63), true],
    ['x'.repeat(64), false],
    ['', false],
    ['-a', false],
    ['a-', false],
    ['Default', false],
    ['my_ns', false],
    ['a.b', false],
  ])('%j: %s', (s, yes) => expect(isDns1123Label(s)).toBe(yes));
});

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
