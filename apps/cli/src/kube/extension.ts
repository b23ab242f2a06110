// The `telepresence.io` cluster extension of a kubeconfig (2.x format): per-cluster never-proxy,
// also-proxy and manager namespace. A bad value is a config error naming the file, key and value.
import { DEFAULT_MANAGER_NAMESPACE } from '@tel/contracts';
import { isDns1123Label } from '@tel/dns-names';
import { configError, type TelError } from '@tel/errors';
import { checkCidr, formatCidr } from '@tel/cidr';

export const EXTENSION_NAME = 'telepresence.io';

export interface ClusterExtension {
  /** Canonical CIDRs to keep off the tunnel. */
  neverProxy: string[];
  /** Canonical CIDRs to route into the tunnel besides the cluster's own subnets. */
  alsoProxy: string[];
  /** `manager.namespace`: where this cluster's traffic manager lives. */
  managerNamespace?: string;
}

/** Keys 2.x accepts that this implementation does not act on yet; accepted so existing files load. */
const ACCEPTED_2X_KEYS = new Set(['dns', 'allow-conflicting-subnets', 'routing']);
const KNOWN_KEYS = ['never-proxy', 'also-proxy', 'manager'];

/** Where the extension came from, for messages. */
export interface ExtensionOrigin {
  file: string;
  cluster: string;
}

export function parseClusterExtension(raw: unknown, origin: ExtensionOrigin): ClusterExtension {
  const result: ClusterExtension = { neverProxy: [], alsoProxy: [] };
  if (raw === undefined || raw === null) return result;
  const where = `${origin.file}: cluster ${JSON.stringify(origin.cluster)} extension ${EXTENSION_NAME}`;
  const bad = (key: string, value: unknown, why: string): TelError =>
    configError(`${where}: ${key} has invalid value ${JSON.stringify(value)}: ${why}`, `fix ${key} of the ${EXTENSION_NAME} extension in ${origin.file}`);
  if (typeof raw !== 'object' || Array.isArray(raw)) throw bad('(extension)', raw, 'expected a mapping');
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (key === 'never-proxy' || key === 'also-proxy') {
      if (!Array.isArray(value)) throw bad(key, value, 'expected a list of CIDRs such as [10.10.8.9/32]');
      const out = key === 'never-proxy' ? result.neverProxy : result.alsoProxy;
      value.forEach((item, i) => {
        if (typeof item !== 'string') throw bad(`${key}[${i}]`, item, 'expected a CIDR string such as 10.10.8.9/32');
        const r = checkCidr(item.trim());
        if (!r.ok) throw bad(`${key}[${i}]`, item, r.reason);
        const c = formatCidr(r.cidr);
        if (!out.includes(c)) out.push(c);
      });
    } else if (key === 'manager') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(key, value, `expected a mapping such as {namespace: ${DEFAULT_MANAGER_NAMESPACE}}`);
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) {
        if (mk === 'namespace') {
          if (typeof mv !== 'string' || !isDns1123Label(mv)) throw bad('manager.namespace', mv, 'expected a namespace name (lower-case letters, digits and -)');
          result.managerNamespace = mv;
        } else if (mk !== 'extraHeaders') {
          throw configError(`${where}: unknown key manager.${mk}`, `remove it from ${origin.file} (known: manager.namespace)`);
        }
      }
    } else if (!ACCEPTED_2X_KEYS.has(key)) {
      throw configError(`${where}: unknown key ${key}`, `remove it or check its spelling in ${origin.file} (known: ${KNOWN_KEYS.join(', ')})`);
    }
  }
  return result;
}

/** Where the traffic manager is: the flag, else the extension's `manager.namespace`, else the default. */
export function managerNamespaceFor(flag: string | undefined, extension: Pick<ClusterExtension, 'managerNamespace'>): string {
  return flag || extension.managerNamespace || DEFAULT_MANAGER_NAMESPACE;
}

/** Find the `telepresence.io` entry in a kubeconfig cluster's `extensions` list (raw YAML). */
export function findExtension(extensions: unknown, origin: ExtensionOrigin): unknown {
  if (extensions === undefined || extensions === null) return undefined;
  if (!Array.isArray(extensions)) {
    throw configError(`${origin.file}: cluster ${JSON.stringify(origin.cluster)}: extensions has invalid value ${JSON.stringify(extensions)}: expected a list of {name, extension}`, `fix extensions in ${origin.file}`);
  }
  for (const e of extensions) {
    if (e && typeof e === 'object' && (e as { name?: unknown }).name === EXTENSION_NAME) return (e as { extension?: unknown }).extension;
  }
  return undefined;
}
