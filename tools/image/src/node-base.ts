// The Node runtime base image spec: the host's node binary, its ldd libraries, CA certificates and a /tmp,
// so images for the traffic-manager and tests need no base pulled from the internet.
import { hostBinaryEntries } from './layer/hostbin.js';
import type { BuildSpec } from './build.js';
import type { LayerEntry } from './layer/entries.js';

export interface NodeBaseOptions {
  /** Node binary to package; default /usr/bin/node. */
  nodeBinary?: string;
  created?: string;
  annotations?: Record<string, string>;
}

export function nodeBaseSpec(opts: NodeBaseOptions = {}): BuildSpec {
  const node = opts.nodeBinary ?? '/usr/bin/node';
  const runtime: LayerEntry[] = [
    ...hostBinaryEntries([node], { extraFiles: ['/etc/ssl/certs/ca-certificates.crt'] }),
    { path: '/tmp', type: 'dir', mode: 0o1777 },
    // Minimal user database so tools that look up uid 0 (and process.userInfo()) work.
    { path: '/etc/passwd', content: 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' },
    { path: '/etc/group', content: 'root:x:0:\nnogroup:x:65534:\n' },
  ];
  const spec: BuildSpec = {
    base: null,
    layers: [runtime],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'],
    entrypoint: [node],
    labels: { 'org.opencontainers.image.title': 'telepresence node runtime base', 'io.telepresence.node.version': process.version },
  };
  if (opts.created) spec.created = opts.created;
  if (opts.annotations) spec.annotations = opts.annotations;
  return spec;
}
