import { describe, expect, it } from 'vitest';
import { parsePortFlag } from './port-flag.js';

describe('parsePortFlag', () => {
  it('reads LOCAL, LOCAL:NUMBER and LOCAL:NAME', () => {
    expect(parsePortFlag('8080')).toEqual({ local: 8080 });
    expect(parsePortFlag('8080:80')).toEqual({ local: 8080, remote: 80 });
    expect(parsePortFlag('3000:http')).toEqual({ local: 3000, remote: 'http' });
    expect(parsePortFlag('3000:grpc-web')).toEqual({ local: 3000, remote: 'grpc-web' });
  });

  it.each([
    ['', 'is not a port number'],
    ['0', 'is not a port number'],
    ['65536', 'is not a port number'],
    ['http', 'is not a port number'],
    ['8080:', 'neither a port number nor a port name'],
    ['8080:Http', 'neither'],
    ['8080:a--b', 'neither'],
    ['8080:70000', 'neither'],
    ['1:2:3', 'more than one'],
  ])('refuses %j with one line naming the problem', (s, why) => {
    expect(() => parsePortFlag(s)).toThrow(why);
    expect(() => parsePortFlag(s)).toThrow(/^invalid --port/);
  });
});
