import { describe, expect, it } from 'vitest';
import { defaultLayout } from './layout.js';
import { netnsScripts, netnsSysctls } from './netns.js';

const l = defaultLayout({ HOME: '/tmp/x' });

describe('netns plan', () => {
  it('only ever uses addresses from 198.18.0.0/15', () => {
    const all = netnsScripts(l).map((s) => s.script).join('\n');
    const ips = all.match(/\b\d+\.\d+\.\d+\.\d+\b/g) ?? [];
    expect(ips.length).toBeGreaterThan(5);
    for (const ip of ips) expect(ip).toMatch(/^198\.1[89]\./);
  });

  it('never creates a link outside our namespaces', () => {
    for (const { script } of netnsScripts(l)) {
      for (const line of script.split('\n').filter((x) => x.startsWith('link add'))) {
        expect(line).toMatch(/peer name \S+ netns tptc-(ws|inet)$/);
      }
    }
  });

  it('forwards only on the node', () => {
    const fwd = netnsSysctls(l).filter((s) => s.key === 'net.ipv4.ip_forward');
    expect(Object.fromEntries(fwd.map((s) => [s.ns, s.value]))).toEqual({ 'tptc-node': '1', 'tptc-ws': '0', 'tptc-inet': '0' });
  });
});
