// The anonymizer's replacement rules: stable placeholders, whole names only, longest first.
import { describe, expect, it } from 'vitest';
import { Anonymizer } from './anonymize.js';

describe('Anonymizer', () => {
  it('gives each value one placeholder per kind, in order of registration', () => {
    const a = new Anonymizer();
    a.add('pod', 'echo-6848967857-tw4jw');
    a.add('pod', 'traffic-manager-7d9f8b6c5-x2x4z');
    a.add('namespace', 'shop');
    a.add('pod', 'echo-6848967857-tw4jw');
    expect([...a.mapping]).toEqual([
      ['echo-6848967857-tw4jw', 'pod-1'],
      ['traffic-manager-7d9f8b6c5-x2x4z', 'traffic-manager-pod-2'],
      ['shop', 'namespace-1'],
    ]);
  });

  it.each([
    // a dot or a slash may border a name; a letter, digit, dash or underscore may not
    ['echo-abc.shop.log /home/alice/x', 'pod-1.namespace-1.log /home/user-1/x'],
    ['shopping echo-abcd alice_b', 'shopping echo-abcd alice_b'],
    // an address is replaced only whole: not inside a longer one
    ['10.0.0.1:80 10.0.0.10 110.0.0.1', 'ip-1:80 10.0.0.10 110.0.0.1'],
    // the pod name is replaced whole before its parts could be
    ['shop-echo-abc', 'pod-2'],
  ])('%j → %j', (text, expected) => {
    const a = new Anonymizer();
    a.add('pod', 'echo-abc');
    a.add('namespace', 'shop');
    a.add('user', 'alice');
    a.add('ip', '10.0.0.1');
    a.add('pod', 'shop-echo-abc');
    expect(a.apply(text)).toBe(expected);
  });

  it('leaves words that identify nobody, and too short names, alone', () => {
    const a = new Anonymizer();
    for (const v of ['root', 'default', 'kube-system', 'localhost', 'u', '', undefined]) a.add('user', v);
    expect(a.mapping.size).toBe(0);
    expect(a.apply('root daemon in default namespace, user u')).toBe('root daemon in default namespace, user u');
  });
});
