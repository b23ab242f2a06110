// e2e helper run inside the test cluster's workstation namespace (where the API server is
// reachable): checks tokens with agentAuthenticator as the manager does, i.e. with the manager's
// own service-account token, so its RBAC is what is tested.
// `node --import tsx agent-auth-driver.ts '{"kubeconfig", "managerToken", "tokens": [...]}'`
// prints one JSON line: {"results": [{"ok": true, "identity"} | {"ok": false, "code", "message"}]}.
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '@tel/logging';
import { agentAuthenticator } from '../agent-auth.js';

interface Request {
  /** A kubeconfig for the cluster's address and CA; its user is replaced by the manager's token. */
  kubeconfig: string;
  managerToken: string;
  tokens: string[];
}

async function main(req: Request): Promise<unknown> {
  const admin = new KubeConfig();
  admin.loadFromFile(req.kubeconfig);
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error(`no current cluster in ${req.kubeconfig}`);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'traffic-manager', token: req.managerToken }],
    contexts: [{ name: 'traffic-manager', cluster: cluster.name, user: 'traffic-manager' }],
    currentContext: 'traffic-manager',
  });
  const authenticate = agentAuthenticator(kc, createLogger(undefined));
  const results: unknown[] = [];
  for (const token of req.tokens) {
    try {
      results.push({ ok: true, identity: await authenticate(token) });
    } catch (err) {
      const e = err as { code?: unknown; message?: string };
      results.push({ ok: false, code: typeof e.code === 'string' ? e.code : undefined, message: e.message ?? String(err) });
    }
  }
  return { results };
}

main(JSON.parse(process.argv[2] ?? '{}') as Request).then(
  (out) => {
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(0);
  },
  (err: unknown) => {
    process.stdout.write(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }) + '\n');
    process.exit(0);
  },
);
