import { describe, expect, it } from 'vitest';
import { containerdConfig, kubeletConfig, kubeProxyConfig, nodePaths } from './configs.js';
import { defaultLayout } from './layout.js';

const l = defaultLayout({ HOME: '/home/t' });
const p = nodePaths(l);

describe('node configs', () => {
  it('keeps containerd away from the default paths', () => {
    const c = containerdConfig(l, p);
    expect(c).not.toMatch(/"\/run\/containerd|"\/var\/lib\/containerd/);
    expect(c).toContain('restrict_oom_score_adj = true');
    expect(c).toContain(`address = "${p.containerdSock}"`);
  });

  it('runs the kubelet with cgroupfs under the cluster cgroup and no oom adjustment', () => {
    const k = JSON.parse(kubeletConfig(l, p));
    expect(k).toMatchObject({ cgroupDriver: 'cgroupfs', cgroupRoot: '/tptc', oomScoreAdj: 0, clusterDNS: ['198.19.0.10'] });
  });

  it('stops kube-proxy from touching conntrack sysctls', () => {
    const k = JSON.parse(kubeProxyConfig(l));
    expect(k.conntrack).toMatchObject({ maxPerCore: 0, min: 0 });
    expect(k.oomScoreAdj).toBe(0);
  });
});
