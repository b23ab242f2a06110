import { describe, expect, it } from 'vitest';
import { ImageError } from './errors.js';
import { formatImageRef, parseImageRef, type ImageRef } from './ref.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseImageRef', () => {
  const ok: Array<[string, ImageRef, string]> = [
    ['127.0.0.1:5000/tel2:v2.5.4', { registry: '127.0.0.1:5000', repository: 'tel2', tag: 'v2.5.4' }, '127.0.0.1:5000/tel2:v2.5.4'],
    ['127.0.0.1:5000/tel2', { registry: '127.0.0.1:5000', repository: 'tel2', tag: 'latest' }, '127.0.0.1:5000/tel2:latest'],
    [`host.example/a/b@${D}`, { registry: 'host.example', repository: 'a/b', digest: D }, `host.example/a/b@${D}`],
    [`localhost/a:t@${D}`, { registry: 'localhost', repository: 'a', tag: 't', digest: D }, `localhost/a:t@${D}`],
    ['localhost:5000/ns/img_x:1.0-rc.1', { registry: 'localhost:5000', repository: 'ns/img_x', tag: '1.0-rc.1' }, 'localhost:5000/ns/img_x:1.0-rc.1'],
    ['[::1]:5000/tel2:v1', { registry: '[::1]:5000', repository: 'tel2', tag: 'v1' }, '[::1]:5000/tel2:v1'],
    ['datawire/tel2:2.5.4', { registry: 'docker.io', repository: 'datawire/tel2', tag: '2.5.4' }, 'docker.io/datawire/tel2:2.5.4'],
    ['alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }, 'docker.io/library/alpine:latest'],
    ['  127.0.0.1:5000/a__b.c-d:x  ', { registry: '127.0.0.1:5000', repository: 'a__b.c-d', tag: 'x' }, '127.0.0.1:5000/a__b.c-d:x'],
  ];
  it.each(ok)('parses %s', (input, want, formatted) => {
    expect(parseImageRef(input)).toEqual(want);
    expect(formatImageRef(parseImageRef(input))).toBe(formatted);
  });

  const bad: Array<[string, RegExp]> = [
    ['', /it is empty/],
    ['127.0.0.1:5000/Tel2:v1', /repository component 'Tel2' must be lowercase/],
    ['127.0.0.1:5000/tel2:', /tag '' must be/],
    ['127.0.0.1:5000/tel2:-x', /tag '-x' must be/],
    ['127.0.0.1:5000/tel2@sha256:abc', /digest 'sha256:abc' is not/],
    ['127.0.0.1:5000/', /repository name is missing/],
    ['127.0.0.1:5000/a//b', /repository component '' must be/],
    ['bad_host:5000/x', /registry host 'bad_host:5000' is malformed/],
    ['a b', /whitespace/],
  ];
  it.each(bad)('rejects %j with one actionable line', (input, why) => {
    try {
      parseImageRef(input);
      throw new Error('expected failure');
    } catch (err) {
      expect(err).toBeInstanceOf(ImageError);
      const e = err as ImageError;
      expect(e.code).toBe('INVALID_REF');
      expect(e.message).toMatch(why);
      expect(e.line).toMatch(/; use the form 'host\[:port\]\/repository\[:tag\]\[@sha256:<digest>\]'/);
      expect(e.line).not.toContain('\n');
    }
  });
});
