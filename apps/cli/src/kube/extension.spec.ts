import { describe, expect, it } from 'vitest';
import { IPV6_NOT_SUPPORTED } from '@tel/cidr';
import { findExtension, managerNamespaceFor, parseClusterExtension } from './extension.js';

const origin = { file: '/home/u/.kube/config', cluster: 'prod' };
const where = '/home/u/.kube/config: cluster "prod" extension telepresence.io';
const hint = (key: string) => `fix ${key} of the telepresence.io extension in /home/u/.kube/config`;

describe('parseClusterExtension', () => {
  it.each([
    ['absent', undefined, { neverProxy: [], alsoProxy: [] }],
    ['empty', {}, { neverProxy: [], alsoProxy: [] }],
    ['never-proxy with one host', { 'never-proxy': ['10.10.8.9/32'] }, { neverProxy: ['10.10.8.9/32'], alsoProxy: [] }],
    [
      'both lists, canonical and deduplicated',
      { 'never-proxy': ['10.10.8.9/32', '10.10.8.9/32'], 'also-proxy': ['172.16.5.1/16', ' 10.1.0.0/16 '] },
      { neverProxy: ['10.10.8.9/32'], alsoProxy: ['172.16.0.0/16', '10.1.0.0/16'] },
    ],
    ['manager namespace', { manager: { namespace: 'platform-tel' } }, { neverProxy: [], alsoProxy: [], managerNamespace: 'platform-tel' }],
    ['2.x keys not acted on are accepted', { dns: { 'local-ip': '1.2.3.4' }, 'allow-conflicting-subnets': [] }, { neverProxy: [], alsoProxy: [] }],
  ])('%s', (_name, raw, expected) => {
    expect(parseClusterExtension(raw, origin)).toEqual(expected);
  });

  it.each([
    ['a bare address', { 'never-proxy': ['10.10.8.9'] }, `${where}: never-proxy[0] has invalid value "10.10.8.9": missing /prefix (write a single address as /32)`, 'never-proxy[0]'],
    ['a prefix too long', { 'also-proxy': ['10.0.0.0/8', '10.0.0.0/40'] }, `${where}: also-proxy[1] has invalid value "10.0.0.0/40": prefix length 40 exceeds 32 for IPv4`, 'also-proxy[1]'],
    ['a bad IPv6', { 'never-proxy': ['fd00:::1/64'] }, `${where}: never-proxy[0] has invalid value "fd00:::1/64": "fd00:::1" is not an IPv6 address`, 'never-proxy[0]'],
    ['an IPv6 also-proxy subnet', { 'also-proxy': ['10.0.0.0/8', 'fd00::/64'] }, `${where}: also-proxy[1] has invalid value "fd00::/64": ${IPV6_NOT_SUPPORTED}`, 'also-proxy[1]'],
    ['an IPv6 never-proxy subnet', { 'never-proxy': ['FD00::/8'] }, `${where}: never-proxy[0] has invalid value "FD00::/8": ${IPV6_NOT_SUPPORTED}`, 'never-proxy[0]'],
    ['a string instead of a list', { 'never-proxy': '10.0.0.0/8' }, `${where}: never-proxy has invalid value "10.0.0.0/8": expected a list of CIDRs such as [10.10.8.9/32]`, 'never-proxy'],
    ['a number in the list', { 'also-proxy': [10] }, `${where}: also-proxy[0] has invalid value 10: expected a CIDR string such as 10.10.8.9/32`, 'also-proxy[0]'],
    ['a bad namespace', { manager: { namespace: 'Bad_NS' } }, `${where}: manager.namespace has invalid value "Bad_NS": expected a namespace name (lower-case letters, digits and -)`, 'manager.namespace'],
    ['manager not a mapping', { manager: 'ambassador' }, `${where}: manager has invalid value "ambassador": expected a mapping such as {namespace: ambassador}`, 'manager'],
    ['not a mapping', ['x'], `${where}: (extension) has invalid value ["x"]: expected a mapping`, '(extension)'],
  ])('rejects %s', (_name, raw, message, key) => {
    expect(() => parseClusterExtension(raw, origin)).toThrow(expect.objectContaining({ category: 'config', message, hint: hint(key) }));
  });

  it('rejects a misspelt key instead of ignoring it', () => {
    expect(() => parseClusterExtension({ 'never-proxies': [] }, origin)).toThrow(
      expect.objectContaining({ category: 'config', message: `${where}: unknown key never-proxies`, hint: 'remove it or check its spelling in /home/u/.kube/config (known: never-proxy, also-proxy, manager)' }),
    );
  });
});

describe('managerNamespaceFor', () => {
  it.each([
    ['the flag first', 'flag-ns', { managerNamespace: 'ext-ns' }, 'flag-ns'],
    ['then the extension', undefined, { managerNamespace: 'ext-ns' }, 'ext-ns'],
    ['an empty flag counts as none', '', { managerNamespace: 'ext-ns' }, 'ext-ns'],
    ['else the 2.x default', undefined, {}, 'ambassador'],
  ])('%s', (_name, flag, extension, want) => expect(managerNamespaceFor(flag, extension)).toBe(want));
});

describe('findExtension', () => {
  it('finds the telepresence.io entry among others', () => {
    expect(findExtension([{ name: 'other', extension: 1 }, { name: 'telepresence.io', extension: { a: 1 } }], origin)).toEqual({ a: 1 });
    expect(findExtension(undefined, origin)).toBeUndefined();
    expect(() => findExtension({}, origin)).toThrow(/extensions has invalid value \{\}/);
  });
});
