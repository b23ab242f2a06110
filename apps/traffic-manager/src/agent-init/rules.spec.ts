import { describe, expect, it } from 'vitest';
import { defaultGateway, initPlan, nftScript, parseRedirects } from './rules.js';
import { runAgentInit } from './run.js';

// /proc/net/route of a pod on a bridge CNI: default via 10.244.0.1 (flags 0003 = up + gateway).
const ROUTES = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0100F40A\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t0000F40A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;

describe('parseRedirects', () => {
  it('reads appPort:agentPort pairs', () => {
    expect(parseRedirects('8080:9901, 9090:9902')).toEqual([
      { appPort: 8080, agentPort: 9901 },
      { appPort: 9090, agentPort: 9902 },
    ]);
  });
  it.each([
    [undefined, 'TEL_AGENT_REDIRECTS is not set: nothing to redirect'],
    ['8080', 'TEL_AGENT_REDIRECTS="8080": "8080" is not appPort:agentPort'],
    ['8080:99999', 'TEL_AGENT_REDIRECTS="8080:99999": agent port "99999" is not a port (1-65535)'],
    ['http:9901', 'TEL_AGENT_REDIRECTS="http:9901": app port "http" is not a port (1-65535)'],
    ['8080:9901,8080:9902', 'TEL_AGENT_REDIRECTS="8080:9901,8080:9902": app port 8080 appears twice'],
  ])('%j is refused in one line', (raw, message) => {
    expect(() => parseRedirects(raw)).toThrow(message);
  });
});

describe('defaultGateway', () => {
  it('decodes the little-endian gateway of the default route', () => expect(defaultGateway(ROUTES)).toBe('10.244.0.1'));
  it('none when the default route has no gateway (point-to-point CNIs) or there is none', () => {
    expect(defaultGateway(ROUTES.replace('0100F40A\t0003', '00000000\t0001'))).toBeUndefined();
    expect(defaultGateway(ROUTES.split('\n').filter((l) => !l.startsWith('eth0\t00000000')).join('\n'))).toBeUndefined();
  });
});

describe('nftScript', () => {
  it('rebuilds its own table in one transaction, exempts the node and the gateway, redirects each port', () => {
    const plan = initPlan({ TEL_AGENT_REDIRECTS: '8080:9901,9090:9902', TEL_AGENT_HOST_IP: '198.18.0.2' }, ROUTES);
    expect(nftScript(plan)).toBe(`table ip telepresence_agent
delete table ip telepresence_agent
table ip telepresence_agent {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip saddr { 198.18.0.2, 10.244.0.1 } return
    tcp dport 8080 redirect to :9901
    tcp dport 9090 redirect to :9902
  }
}
`);
  });
  it('behind a mesh: only the proxy UID\'s loopback dials to the app ports, in a chain ahead of the mesh\'s nat chains', () => {
    const plan = initPlan({ TEL_AGENT_MESH_REDIRECTS: '8080:9901,9090:9902', TEL_AGENT_MESH_UID: '1337', TEL_AGENT_HOST_IP: '198.18.0.2' }, ROUTES);
    expect(plan.redirects).toEqual([]);
    expect(nftScript(plan)).toBe(`table ip telepresence_agent
delete table ip telepresence_agent
table ip telepresence_agent {
  chain output {
    type nat hook output priority -110; policy accept;
    meta skuid 1337 oifname "lo" tcp dport 8080 redirect to :9901
    meta skuid 1337 oifname "lo" tcp dport 9090 redirect to :9902
  }
}
`);
  });
  it('behind a mesh, with a port it does not capture: both chains', () => {
    const script = nftScript(initPlan({ TEL_AGENT_REDIRECTS: '7070:9902', TEL_AGENT_MESH_REDIRECTS: '8080:9901', TEL_AGENT_MESH_UID: '1337', TEL_AGENT_HOST_IP: '198.18.0.2' }, ROUTES));
    expect(script).toContain('    tcp dport 7070 redirect to :9902\n');
    expect(script).toContain('    meta skuid 1337 oifname "lo" tcp dport 8080 redirect to :9901\n');
  });
  it.each([
    [{ TEL_AGENT_MESH_REDIRECTS: '8080:9901', TEL_AGENT_MESH_UID: 'istio' }, 'TEL_AGENT_MESH_UID="istio" is not a UID'],
    [{ TEL_AGENT_MESH_REDIRECTS: '8080:9901' }, 'TEL_AGENT_MESH_UID="" is not a UID'],
    [{ TEL_AGENT_MESH_REDIRECTS: '8080', TEL_AGENT_MESH_UID: '1337' }, 'TEL_AGENT_MESH_REDIRECTS="8080": "8080" is not appPort:agentPort'],
  ])('bad mesh environment %j is refused in one line', (env, message) => {
    expect(() => initPlan({ ...env, TEL_AGENT_HOST_IP: '198.18.0.2' }, ROUTES)).toThrow(message);
  });
  it('a gateway that is the host IP is listed once', () => {
    expect(initPlan({ TEL_AGENT_REDIRECTS: '80:9901', TEL_AGENT_HOST_IP: '10.244.0.1' }, ROUTES).exempt).toEqual(['10.244.0.1']);
  });
});

describe('runAgentInit', () => {
  it('bad environment: one line on stderr, exit 1, nft never run', async () => {
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (writes.push(s), true)) as typeof process.stderr.write;
    let ran = false;
    try {
      const code = await runAgentInit({ TEL_AGENT_REDIRECTS: '8080:9901', TEL_AGENT_HOST_IP: 'node-1', TELEPRESENCE_LOG_LEVEL: 'error' }, { readRoutes: () => ROUTES, nft: async () => void (ran = true) });
      expect(code).toBe(1);
    } finally {
      process.stderr.write = orig;
    }
    expect(ran).toBe(false);
    expect(writes).toEqual(['tel-agent-init: TEL_AGENT_HOST_IP="node-1" is not an IPv4 address; set it from the downward API: valueFrom.fieldRef.fieldPath status.hostIP\n']);
  });
  it('good environment: the script goes to nft', async () => {
    const scripts: string[] = [];
    const code = await runAgentInit({ TEL_AGENT_REDIRECTS: '8080:9901', TEL_AGENT_HOST_IP: '198.18.0.2', TELEPRESENCE_LOG_LEVEL: 'error' }, { readRoutes: () => ROUTES, nft: async (s) => void scripts.push(s) });
    expect(code).toBe(0);
    expect(scripts[0]).toContain('tcp dport 8080 redirect to :9901');
  });
});
