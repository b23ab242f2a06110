// `telepresence version` when not connected, against the REAL test cluster: the manager's
// Deployment read through the API server with the kubeconfig flags, from the workstation namespace.
// The Deployment is created here with no replicas: version reads the object, never the pod.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { buildVersion } from '@tel/version';
import { userDirs } from '../../testing/user-dirs.js';
import { kubectlAsAdmin, WORKSPACE_ROOT } from '../../userd/e2e/harness.js';

const NS = 'tel-version-e2e';
let cluster: ClusterInfo;
let dir: string;

function managerDeployment(version: string): string {
  const image = `${cluster.registry}/tel2:${version}`;
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'traffic-manager', namespace: NS, annotations: { 'telepresence.io/api-version': '1' } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'tm' } },
      template: { metadata: { labels: { app: 'tm' } }, spec: { containers: [{ name: 'traffic-manager', image, env: [{ name: 'AGENT_IMAGE', value: image }] }] } },
    },
  });
}

/** The CLI from source in the workstation namespace, with its own user dirs and no KUBECONFIG. */
async function tp(...args: string[]) {
  const env = { ...userDirs(dir), KUBECONFIG: '' };
  return cluster.wsExec('node', ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], { cwd: WORKSPACE_ROOT, env, timeoutMs: 120_000 });
}

beforeAll(async () => {
  cluster = await ensureClusterUp();
  dir = mkdtempSync(join(tmpdir(), 'tel-version-e2e-'));
  await kubectlAsAdmin(cluster, ['delete', 'namespace', NS, '--ignore-not-found', '--wait=true']);
  await kubectlAsAdmin(cluster, ['create', 'namespace', NS]);
}, 300_000);

afterAll(async () => {
  if (cluster) await kubectlAsAdmin(cluster, ['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('telepresence version, not connected (real cluster)', () => {
  it('a namespace without a manager: one line naming it, the cluster exit code, nothing on stdout', async () => {
    const r = await tp('version', '--kubeconfig', cluster.adminKubeconfig, '--manager-namespace', NS);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^telepresence version: error: no Traffic Manager in namespace ${NS} of context \\S+ \\(${cluster.apiServer.replace(/\./g, '\\.')}\\)`));
  });

  it("the manager's version and its agent image, read with the developer's kubeconfig; another version is named, exit 2", async () => {
    await kubectlAsAdmin(cluster, ['apply', '-f', '-'], managerDeployment(buildVersion));
    const same = await tp('version', '-o', 'json', '--kubeconfig', cluster.developerKubeconfig, '--manager-namespace', NS);
    expect(same.code, same.stderr).toBe(0);
    const doc = JSON.parse(same.stdout);
    expect(doc.traffic_manager).toMatchObject({ version: buildVersion, api_version: 1, source: 'cluster', namespace: NS, version_mismatch: false });
    expect(doc.traffic_agent).toMatchObject({ version: buildVersion, image: `${cluster.registry}/tel2:${buildVersion}` });
    await kubectlAsAdmin(cluster, ['apply', '-f', '-'], managerDeployment('v2.5.4'));
    const other = await tp('version', '--kubeconfig', cluster.developerKubeconfig, '--manager-namespace', NS);
    expect(other.code).toBe(2);
    expect(other.stdout).toMatch(new RegExp(`^Traffic Manager: v2\\.5\\.4 \\(api v1\\) in namespace ${NS}  <- version mismatch$`, 'm'));
    expect(other.stderr).toContain(`telepresence version: error: version mismatch: Client ${buildVersion} != Traffic Manager v2.5.4; run 'telepresence helm upgrade'\n`);
  }, 120_000);

  it('a context that is not in the kubeconfig: one line, a user error', async () => {
    const r = await tp('version', '--kubeconfig', cluster.adminKubeconfig, '--context', 'nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^telepresence version: error: context "nope" not found in .*; use one of: .+\n$/);
  });
});
