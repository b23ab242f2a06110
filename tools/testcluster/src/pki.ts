// Certificates and kubeconfigs of the test cluster, made with openssl: one CA signs every serving
// and client certificate; a separate key pair signs service-account tokens.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CLUSTER_DOMAIN, DEVELOPER_USER, NET, NODE_NAME, type Layout } from './layout.js';
import { run } from './proc.js';

export interface CertSpec {
  /** File stem under the pki dir: <name>.crt / <name>.key. */
  name: string;
  cn: string;
  org?: string;
  usage: 'client' | 'server' | 'both';
  dnsNames?: string[];
  ips?: string[];
}

export function clusterCerts(): CertSpec[] {
  return [
    {
      name: 'apiserver',
      cn: 'kube-apiserver',
      usage: 'server',
      dnsNames: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${CLUSTER_DOMAIN}`, 'localhost', NODE_NAME],
      ips: [NET.apiServiceIp, NET.nodeIp, '127.0.0.1'],
    },
    { name: 'apiserver-kubelet-client', cn: 'kube-apiserver-kubelet-client', org: 'system:masters', usage: 'client' },
    { name: 'admin', cn: 'tptc-admin', org: 'system:masters', usage: 'client' },
    { name: 'developer', cn: DEVELOPER_USER, usage: 'client' },
    { name: 'controller-manager', cn: 'system:kube-controller-manager', usage: 'client' },
    { name: 'scheduler', cn: 'system:kube-scheduler', usage: 'client' },
    { name: 'kubelet', cn: `system:node:${NODE_NAME}`, org: 'system:nodes', usage: 'client' },
    { name: 'kubelet-serving', cn: NODE_NAME, usage: 'server', dnsNames: [NODE_NAME, 'localhost'], ips: [NET.nodeIp, '127.0.0.1'] },
    { name: 'kube-proxy', cn: 'system:kube-proxy', usage: 'client' },
  ];
}

/** The x509v3 extension section openssl adds when signing `spec`. */
export function extensions(spec: CertSpec): string {
  const eku = { client: 'clientAuth', server: 'serverAuth', both: 'serverAuth,clientAuth' }[spec.usage];
  const lines = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${eku}`];
  const sans = [...(spec.dnsNames ?? []).map((d) => `DNS:${d}`), ...(spec.ips ?? []).map((ip) => `IP:${ip}`)];
  if (sans.length > 0) lines.push(`subjectAltName=${sans.join(',')}`);
  return lines.join('\n') + '\n';
}

export function subject(spec: { cn: string; org?: string }): string {
  return (spec.org ? `/O=${spec.org}` : '') + `/CN=${spec.cn}`;
}

const genKey = (file: string) => run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file]);

async function issue(dir: string, spec: CertSpec): Promise<void> {
  const key = join(dir, `${spec.name}.key`);
  const csr = join(dir, `${spec.name}.csr`);
  const ext = join(dir, `${spec.name}.ext`);
  await genKey(key);
  await run('openssl', ['req', '-new', '-key', key, '-subj', subject(spec), '-out', csr]);
  writeFileSync(ext, extensions(spec));
  const serial = '0x' + [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('');
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'),
    '-set_serial', serial, '-days', '3650', '-sha256', '-extfile', ext, '-out', join(dir, `${spec.name}.crt`),
  ]);
}

/** Creates the CA, every certificate and the service-account key pair under `l.pkiDir`. */
export async function createPki(l: Layout): Promise<void> {
  const dir = l.pkiDir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await genKey(join(dir, 'ca.key'));
  await run('openssl', [
    'req', '-x509', '-new', '-key', join(dir, 'ca.key'), '-subj', '/CN=telepresence-testcluster-ca', '-days', '3650', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-out', join(dir, 'ca.crt'),
  ]);
  await Promise.all([
    ...clusterCerts().map((c) => issue(dir, c)),
    (async () => {
      await genKey(join(dir, 'sa.key'));
      await run('openssl', ['ec', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub')]);
    })(),
  ]);
}

/** A kubeconfig with everything inlined, so the file can be copied anywhere. */
export function kubeconfig(opts: { server: string; caPem: string; certPem: string; keyPem: string; user: string; cluster?: string }): string {
  const cluster = opts.cluster ?? 'telepresence-testcluster';
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caPem) } }],
    users: [{ name: opts.user, user: { 'client-certificate-data': b64(opts.certPem), 'client-key-data': b64(opts.keyPem) } }],
    contexts: [{ name: `${opts.user}@${cluster}`, context: { cluster, user: opts.user, namespace: 'default' } }],
    'current-context': `${opts.user}@${cluster}`,
  };
  return JSON.stringify(cfg, null, 2) + '\n';
}

/** Kubeconfig files: the two for people (admin, developer) and one per component. */
export function writeKubeconfigs(l: Layout): Record<string, string> {
  const server = `https://${NET.nodeIp}:${NET.apiPort}`;
  const read = (f: string) => readFileSync(join(l.pkiDir, f), 'utf8');
  const caPem = read('ca.crt');
  const files: Record<string, string> = {
    admin: l.adminKubeconfig,
    developer: l.developerKubeconfig,
  };
  for (const c of ['controller-manager', 'scheduler', 'kubelet', 'kube-proxy']) files[c] = join(dirname(l.adminKubeconfig), `${c}.kubeconfig`);
  for (const [name, file] of Object.entries(files)) {
    mkdirSync(dirname(file), { recursive: true });
    const user = name === 'developer' ? DEVELOPER_USER : name === 'admin' ? 'tptc-admin' : name;
    writeFileSync(file, kubeconfig({ server, caPem, certPem: read(`${name}.crt`), keyPem: read(`${name}.key`), user }), { mode: 0o600 });
  }
  return files;
}
