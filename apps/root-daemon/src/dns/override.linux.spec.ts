import { describe, expect, it } from 'vitest';
import { overrideRuleset } from './override.linux.js';

describe('override ruleset', () => {
  it('redirects the nameservers to our port and exempts our upstream source port', () => {
    const rs = overrideRuleset({ nameservers: ['10.0.0.2', '127.0.0.53'], resolverPort: 40053, upstreamSourcePort: 41000, bypassMark: 0x7e11 });
    expect(rs).toContain('elements = { 10.0.0.2, 127.0.0.53 }');
    const lines = rs.split('\n').map((l) => l.trim());
    const exempt = lines.indexOf('ip daddr @nameservers udp dport 53 udp sport 41000 return');
    const redirect = lines.indexOf('ip daddr @nameservers udp dport 53 redirect to :40053');
    expect(exempt).toBeGreaterThan(lines.indexOf('meta mark 0x7e11 return'));
    expect(lines.indexOf('meta mark 0x7e11 return')).toBeGreaterThan(0);
    expect(redirect).toBeGreaterThan(exempt);
    expect(lines).toContain('ip daddr @nameservers tcp dport 53 redirect to :40053');
  });
});
