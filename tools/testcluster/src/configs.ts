// Configuration files of the node's components, generated from the layout. Every path points
// into the state dir so nothing clashes with a containerd, kubelet or CNI setup on the host.
import { join } from 'node:path';
import { CLUSTER_DOMAIN, INET_NAMES, NET, type Layout } from './layout.js';

export interface NodePaths {
  containerdDir: string;
  containerdSock: string;
  containerdConfig: string;
  certsDir: string;
  cniConfDir: string;
  cniDataDir: string;
  kubeletDir: string;
  kubeletConfig: string;
  podLogsDir: string;
  kubeProxyConfig: string;
  etcdDir: string;
  registryConfig: string;
  nodeResolvConf: string;
  wsDir: string;
  inetZone: string;
}

export function nodePaths(l: Layout): NodePaths {
  const s = l.stateDir;
  return {
    containerdDir: join(s, 'containerd'),
    containerdSock: join(s, 'containerd', 'containerd.sock'),
    containerdConfig: join(s, 'config', 'containerd.toml'),
    certsDir: join(s, 'containerd', 'certs.d'),
    cniConfDir: join(s, 'cni', 'net.d'),
    cniDataDir: join(s, 'cni', 'ipam'),
    kubeletDir: join(s, 'kubelet'),
    kubeletConfig: join(s, 'config', 'kubelet.json'),
    podLogsDir: join(s, 'pod-logs'),
    kubeProxyConfig: join(s, 'config', 'kube-proxy.json'),
    etcdDir: join(s, 'etcd'),
    registryConfig: join(s, 'config', 'registry.yml'),
    nodeResolvConf: join(s, 'config', 'node-resolv.conf'),
    wsDir: join(s, 'ws'),
    inetZone: join(s, 'config', 'inet.zone'),
  };
}

export const PAUSE_IMAGE = (l: Layout) => `${l.registry}/pause:tptc`;

export function containerdConfig(l: Layout, p: NodePaths): string {
  const d = p.containerdDir;
  return `version = 2
root = "${d}/root"
state = "${d}/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${p.containerdSock}"

[ttrpc]
  address = "${p.containerdSock}.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${d}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE(l)}"
  restrict_oom_score_adj = true
  enable_selinux = false
  disable_apparmor = true
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${d}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${p.cniConfDir}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${p.certsDir}"
`;
}

/** hosts.toml for the local registry: plain HTTP, never the internet. */
export function registryHostsToml(l: Layout): string {
  return `server = "http://${l.registry}"

[host."http://${l.registry}"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`;
}

export function cniConfig(p: NodePaths): string {
  return (
    JSON.stringify(
      {
        cniVersion: '0.4.0',
        name: 'tptc-pods',
        plugins: [
          {
            type: 'bridge',
            bridge: 'tptc-br0',
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              dataDir: p.cniDataDir,
              ranges: [[{ subnet: NET.nodePodSubnet, gateway: NET.podBridgeIp }]],
              routes: [{ dst: '0.0.0.0/0' }],
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}

export function kubeletConfig(l: Layout, p: NodePaths): string {
  const pki = l.pkiDir;
  return (
    JSON.stringify(
      {
        kind: 'KubeletConfiguration',
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        address: NET.nodeIp,
        port: 10250,
        readOnlyPort: 0,
        healthzBindAddress: '127.0.0.1',
        healthzPort: 10248,
        tlsCertFile: join(pki, 'kubelet-serving.crt'),
        tlsPrivateKeyFile: join(pki, 'kubelet-serving.key'),
        authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: join(pki, 'ca.crt') } },
        authorization: { mode: 'Webhook' },
        cgroupDriver: 'cgroupfs',
        cgroupRoot: `/${l.cgroup}`,
        cgroupsPerQOS: true,
        enforceNodeAllocatable: ['pods'],
        containerRuntimeEndpoint: `unix://${p.containerdSock}`,
        clusterDomain: CLUSTER_DOMAIN,
        clusterDNS: [NET.dnsServiceIp],
        resolvConf: p.nodeResolvConf,
        podLogsDir: p.podLogsDir,
        // No CAP_SYS_RESOURCE here: a negative oom_score_adj can't be written.
        oomScoreAdj: 0,
        failSwapOn: false,
        // The kubelet rewrites a few kernel.*/vm.* sysctls; `up` records them and `down` restores them.
        protectKernelDefaults: false,
        makeIPTablesUtilChains: true,
        hairpinMode: 'hairpin-veth',
        serializeImagePulls: false,
        registerNode: true,
        rotateCertificates: false,
        serverTLSBootstrap: false,
        maxPods: 64,
        syncFrequency: '10s',
        fileCheckFrequency: '20s',
        nodeStatusUpdateFrequency: '5s',
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
        evictionPressureTransitionPeriod: '10s',
        localStorageCapacityIsolation: true,
        shutdownGracePeriod: '0s',
        logging: { format: 'text', verbosity: 1 },
      },
      null,
      2,
    ) + '\n'
  );
}

export function kubeProxyConfig(l: Layout): string {
  return (
    JSON.stringify(
      {
        kind: 'KubeProxyConfiguration',
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        clientConnection: { kubeconfig: join(l.stateDir, 'kubeconfig', 'kube-proxy.kubeconfig') },
        mode: 'iptables',
        clusterCIDR: NET.podCidr,
        bindAddress: '0.0.0.0',
        healthzBindAddress: '127.0.0.1:10256',
        metricsBindAddress: '127.0.0.1:10249',
        hostnameOverride: 'tptc-node',
        // No CAP_SYS_RESOURCE: keep the default oom score. From a namespace the conntrack table
        // size and the conntrack timeouts can't (and needn't) be changed.
        oomScoreAdj: 0,
        conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
        iptables: { masqueradeAll: false, syncPeriod: '10s', minSyncPeriod: '0s' },
      },
      null,
      2,
    ) + '\n'
  );
}

export function registryConfig(l: Layout): string {
  return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${l.registryDir}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: ${l.registry}
  headers:
    X-Content-Type-Options: [nosniff]
`;
}

/** resolv.conf the kubelet hands to pods with dnsPolicy Default (CoreDNS's upstream). */
export function nodeResolvConf(): string {
  return `nameserver ${NET.inetDnsIp}\n`;
}

/** The workstation's resolved: the inet DNS server as the global upstream, nothing chatty. */
export function wsResolvedConf(): string {
  return `[Resolve]
DNS=${NET.inetDnsIp}
Domains=~.
LLMNR=no
MulticastDNS=no
DNSSEC=no
DNSOverTLS=no
DNSStubListener=yes
ReadEtcHosts=yes
`;
}

export function inetZone(): string {
  return Object.entries(INET_NAMES)
    .map(([n, ip]) => `${n} ${ip}`)
    .join('\n') + '\n';
}
