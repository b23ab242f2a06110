import { describe, expect, it } from 'vitest';
import { parseVersion, versionFromTag } from './grammar.js';

describe('parseVersion', () => {
  it.each(['v2.5.4', 'v2.5.4-2-g8ccf3c9d', 'v0.0.0-209-g7c608b92-dirty-0a1b2c3d', 'v1.0.0-rc.1'])('%s is a version', (v) => expect(parseVersion(v)?.version).toBe(v.slice(1)));
  // Build metadata is not part of the grammar: images and daemons compare versions as written.
  it.each(['2.5.4', 'v2.5', 'v02.5.4', 'V2.5.4', 'v2.5.4 ', 'v1.0.0+build.5', 'latest', ''])('%j is not', (v) => expect(parseVersion(v)).toBeUndefined());
});

describe('versionFromTag', () => {
  it.each([
    ['v2.5.4', 'v2.5.4'],
    ['2.5.4', 'v2.5.4'],
    ['2.20.2', 'v2.20.2'],
    ['latest', undefined],
    ['2.5', undefined],
  ])('%s → %s', (tag, want) => expect(versionFromTag(tag)).toBe(want));
});
