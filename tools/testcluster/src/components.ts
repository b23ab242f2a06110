// The daemons of the test cluster: what each runs, in which namespaces, and how it is probed.
// Node components run in the node holder's network + private mount namespace (nsenter -t), so
// their mounts (pod volumes, overlay rootfs, netns pins) never reach the host's mount table and
// vanish when the last of them exits.
import { join } from 'node:path';
import type { Binaries } from './build.js';
import { type NodePaths, nodePaths } from './configs.js';
import { NET, NODE_NAME, type Layout, netnsPath } from './layout.js';
import { etcOverlayScript } from './workstation-etc.js';

export type Where =
  | { kind: 'host' }
  | { kind: 'netns'; ns: string }
  /** Network + mount namespace of a holder process (by its pid-file name). */
  | { kind: 'holder'; holder: 'node-holder' | 'ws-holder' };

export interface Component {
  name: string;
  where: Where;
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  /** HTTP(S) URL probed from inside the node namespace; a 2xx means healthy. */
  probeUrl?: string;
}

/** Script run by `unshare` for the node's mount namespace: private /run, /var/lib, /var/log. */
export function nodeHolderScript(helper: string): string {
  return [
    'set -e',
    // CNI's result cache (/var/lib/cni), pod netns pins (/run/netns), shim sockets
    // (/run/containerd/s) and the kubelet's /var/log/containers land here, not on the host.
    'mount -n -t tmpfs -o mode=0755,size=64m tptc-node-run /run',
    'mount -n -t tmpfs -o mode=0755,size=512m tptc-node-varlib /var/lib',
    'mount -n -t tmpfs -o mode=0755,size=64m tptc-node-varlog /var/log',
    'mkdir -p /run/netns /var/lib/cni /var/lib/etcd',
    `exec ${helper} hold`,
  ].join('\n');
}

/**
 * Script for the workstation's mount namespace: own /run and /sys, and an /etc overlay that pins
 * name resolution as on a Debian/Ubuntu desktop (stub-resolv.conf, `hosts: files dns`) whatever
 * the host has; the Fedora style is a per-command child namespace (`flavourPrefix`).
 */
export function wsHolderScript(helper: string, wsDir: string): string {
  return [
    'set -e',
    'mount -n -t tmpfs -o mode=0755,size=64m tptc-ws-run /run',
    'mkdir -p /run/dbus /run/systemd/resolve /run/user /run/lock',
    'chown systemd-resolve:systemd-resolve /run/systemd/resolve 2>/dev/null || true',
    ...etcOverlayScript({ dir: wsDir, scratch: '/run', flavour: 'stub', copies: { '/etc/systemd/resolved.conf': join(wsDir, 'resolved.conf') } }),
    // sysfs of this network namespace, as `ip netns exec` would show it.
    'mount -n -t sysfs tptc-ws-sys /sys',
    `exec ${helper} hold`,
  ].join('\n');
}

export function holders(l: Layout, b: Binaries, p: NodePaths): Component[] {
  const unshare = ['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c'];
  return [
    { name: 'node-holder', where: { kind: 'netns', ns: l.netns.node }, cmd: unshare[0]!, args: [...unshare.slice(1), nodeHolderScript(b.own.helper)] },
    { name: 'ws-holder', where: { kind: 'netns', ns: l.netns.ws }, cmd: unshare[0]!, args: [...unshare.slice(1), wsHolderScript(b.own.helper, p.wsDir)] },
  ];
}

/** Started as soon as the namespaces and holders exist. */
export function earlyComponents(l: Layout, b: Binaries): Component[] {
  const p = nodePaths(l);
  const node: Where = { kind: 'holder', holder: 'node-holder' };
  const ws: Where = { kind: 'holder', holder: 'ws-holder' };
  return [
    {
      name: 'etcd',
      where: node,
      cmd: '/usr/bin/etcd',
      args: [
        '--name=tptc',
        // On the node's tmpfs: fsync is free, and it disappears with the node.
        '--data-dir=/var/lib/etcd/data',
        '--listen-client-urls=http://127.0.0.1:2379',
        '--advertise-client-urls=http://127.0.0.1:2379',
        '--listen-peer-urls=http://127.0.0.1:2380',
        '--initial-advertise-peer-urls=http://127.0.0.1:2380',
        '--initial-cluster=tptc=http://127.0.0.1:2380',
        '--initial-cluster-state=new',
        '--snapshot-count=10000',
        '--quota-backend-bytes=268435456',
        '--logger=zap',
        '--log-level=warn',
      ],
      probeUrl: 'http://127.0.0.1:2379/health',
    },
    { name: 'registry', where: node, cmd: '/usr/bin/docker-registry', args: ['serve', p.registryConfig], probeUrl: `http://${l.registry}/v2/` },
    { name: 'containerd', where: node, cmd: '/usr/bin/containerd', args: ['--config', p.containerdConfig] },
    // The registry as the image tool in the host namespace sees it: loopback there, forwarded
    // into the node namespace's loopback. No route or address changes anywhere.
    { name: 'registry-forwarder', where: { kind: 'host' }, cmd: b.own.helper, args: ['nsfwd', l.registry, netnsPath(l.netns.node), l.registry] },
    { name: 'inet', where: { kind: 'netns', ns: l.netns.inet }, cmd: b.own.helper, args: ['inet', p.inetZone, NET.inetDnsIp] },
    { name: 'ws-dbus', where: ws, cmd: '/usr/bin/dbus-daemon', args: ['--system', '--nofork', '--nopidfile'] },
  ];
}

/** Needs the system bus of the workstation. */
export function wsResolved(): Component {
  return {
    name: 'ws-resolved',
    where: { kind: 'holder', holder: 'ws-holder' },
    cmd: '/lib/systemd/systemd-resolved',
    args: [],
    env: { SYSTEMD_LOG_TARGET: 'console', SYSTEMD_LOG_LEVEL: 'info' },
  };
}

export function apiServer(l: Layout, b: Binaries): Component {
  const pki = (f: string) => join(l.pkiDir, f);
  return {
    name: 'kube-apiserver',
    where: { kind: 'holder', holder: 'node-holder' },
    cmd: b.upstream['kube-apiserver'],
    args: [
      `--advertise-address=${NET.nodeIp}`,
      '--bind-address=0.0.0.0',
      `--secure-port=${NET.apiPort}`,
      '--etcd-servers=http://127.0.0.1:2379',
      `--service-cluster-ip-range=${NET.serviceCidr}`,
      `--client-ca-file=${pki('ca.crt')}`,
      `--tls-cert-file=${pki('apiserver.crt')}`,
      `--tls-private-key-file=${pki('apiserver.key')}`,
      `--kubelet-client-certificate=${pki('apiserver-kubelet-client.crt')}`,
      `--kubelet-client-key=${pki('apiserver-kubelet-client.key')}`,
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki('sa.pub')}`,
      `--service-account-signing-key-file=${pki('sa.key')}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      '--event-ttl=30m',
      `--cert-dir=${join(l.stateDir, 'apiserver')}`,
      '--v=1',
    ],
    probeUrl: `https://127.0.0.1:${NET.apiPort}/readyz`,
  };
}

/** Started once the API server is ready. */
export function nodeAgents(l: Layout, b: Binaries): Component[] {
  const p = nodePaths(l);
  const kc = (n: string) => join(l.stateDir, 'kubeconfig', `${n}.kubeconfig`);
  const node: Where = { kind: 'holder', holder: 'node-holder' };
  return [
    {
      name: 'kube-controller-manager',
      where: node,
      cmd: b.upstream['kube-controller-manager'],
      args: [
        `--kubeconfig=${kc('controller-manager')}`,
        '--bind-address=127.0.0.1',
        `--service-account-private-key-file=${join(l.pkiDir, 'sa.key')}`,
        `--root-ca-file=${join(l.pkiDir, 'ca.crt')}`,
        `--cluster-signing-cert-file=${join(l.pkiDir, 'ca.crt')}`,
        `--cluster-signing-key-file=${join(l.pkiDir, 'ca.key')}`,
        '--use-service-account-credentials=true',
        `--service-cluster-ip-range=${NET.serviceCidr}`,
        // Give the node spec.podCIDRs (the first /24 of the pod range, the bridge's subnet), as
        // real clusters do: Telepresence's manager routes pod subnets from it.
        '--allocate-node-cidrs=true',
        `--cluster-cidr=${NET.podCidr}`,
        '--node-cidr-mask-size=24',
        '--leader-elect=false',
        '--profiling=false',
        '--v=1',
      ],
      probeUrl: 'https://127.0.0.1:10257/healthz',
    },
    {
      name: 'kube-scheduler',
      where: node,
      cmd: b.upstream['kube-scheduler'],
      args: [`--kubeconfig=${kc('scheduler')}`, '--bind-address=127.0.0.1', '--leader-elect=false', '--profiling=false', '--v=1'],
      probeUrl: 'https://127.0.0.1:10259/healthz',
    },
    {
      name: 'kubelet',
      where: node,
      cmd: b.upstream.kubelet,
      args: [
        `--config=${p.kubeletConfig}`,
        `--kubeconfig=${kc('kubelet')}`,
        `--root-dir=${p.kubeletDir}`,
        `--cert-dir=${join(p.kubeletDir, 'pki')}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${NET.nodeIp}`,
        '--v=1',
      ],
      probeUrl: 'http://127.0.0.1:10248/healthz',
    },
    {
      name: 'kube-proxy',
      where: node,
      cmd: b.upstream['kube-proxy'],
      args: [`--config=${p.kubeProxyConfig}`, '--v=1'],
      probeUrl: 'http://127.0.0.1:10256/healthz',
    },
  ];
}
