// Preflight: everything `up` needs from the machine, each missing piece reported as one line
// that names it and says how to get it.
import { accessSync, constants, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { type Layout, registryPort } from './layout.js';
import { missingUpstream, ownCached } from './build.js';
import { NSS_RESOLVE_MODULE } from './workstation-etc.js';

export interface Missing {
  what: string;
  hint: string;
}

const FILES: Array<[string, string]> = [
  ['/usr/bin/etcd', 'apt-get install etcd-server'],
  ['/usr/bin/containerd', 'apt-get install containerd'],
  ['/usr/sbin/runc', 'apt-get install runc'],
  ['/usr/lib/cni/bridge', 'apt-get install containernetworking-plugins'],
  ['/usr/lib/cni/host-local', 'apt-get install containernetworking-plugins'],
  ['/usr/lib/cni/portmap', 'apt-get install containernetworking-plugins'],
  ['/usr/bin/docker-registry', 'apt-get install docker-registry'],
  ['/usr/bin/dbus-daemon', 'apt-get install dbus-daemon'],
  ['/lib/systemd/systemd-resolved', 'apt-get install systemd-resolved (then check /etc/resolv.conf is unchanged)'],
  ['/usr/bin/resolvectl', 'apt-get install systemd-resolved (then check /etc/resolv.conf is unchanged)'],
  [NSS_RESOLVE_MODULE, 'apt-get install libnss-resolve (then check /etc/nsswitch.conf is unchanged)'],
  ['/usr/bin/nsenter', 'apt-get install util-linux'],
  ['/usr/bin/unshare', 'apt-get install util-linux'],
  ['/usr/bin/openssl', 'apt-get install openssl'],
  ['/usr/bin/curl', 'apt-get install curl'],
  ['/usr/sbin/ip', 'apt-get install iproute2'],
  ['/usr/sbin/iptables', 'apt-get install iptables'],
  ['/usr/sbin/conntrack', 'apt-get install conntrack'],
];

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      accessSync(`${dir}/${cmd}`, constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Everything missing; empty when `up` can proceed. `checkPorts` is false when our own forwarder may hold the port. */
export async function checkPrereqs(l: Layout, opts: { checkPorts: boolean }): Promise<Missing[]> {
  const missing: Missing[] = [];
  if (process.getuid?.() !== 0) missing.push({ what: 'root privileges', hint: 'run as root (namespaces, cgroups and mounts need it)' });
  for (const [f, hint] of FILES) if (!existsSync(f)) missing.push({ what: f, hint });
  if (!existsSync('/sys/fs/cgroup/memory/cgroup.procs') || !existsSync('/sys/fs/cgroup/pids/cgroup.procs')) {
    missing.push({ what: 'cgroup v1 hierarchies (memory, pids) under /sys/fs/cgroup', hint: 'this tool needs a cgroup v1 host' });
  }
  if (missingUpstream(l).length > 0 && !onPath('go')) missing.push({ what: 'go (to build Kubernetes components)', hint: 'install Go >= 1.22 from https://go.dev/dl and put it on PATH' });
  else if (!ownCached() && !onPath('go')) missing.push({ what: 'go (to build the helper and image binaries)', hint: 'install Go >= 1.22 and put it on PATH' });
  for (const bad of ['/var/lib/', '/run/', '/var/run/', '/var/log/']) {
    if ((l.stateDir + '/').startsWith(bad)) missing.push({ what: `a state dir outside ${bad} (got ${l.stateDir})`, hint: 'set TPTC_STATE_DIR elsewhere; the node hides that path behind a tmpfs' });
  }
  const port = registryPort(l);
  if (opts.checkPorts && !(await portFree('127.0.0.1', port))) {
    missing.push({
      what: `free port 127.0.0.1:${port} (registry forwarder)`,
      hint: `stop whatever listens there (ss -ltnp 'sport = :${port}') or set TPTC_REGISTRY_PORT`,
    });
  }
  return missing;
}

export function formatMissing(m: Missing): string {
  return `missing ${m.what}: ${m.hint}`;
}
