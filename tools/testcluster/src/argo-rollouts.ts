// The Argo Rollouts controller of the test cluster: built from its upstream Go module (cached per
// version, like the Kubernetes binaries), its CRDs applied at `up`, and the controller run as a
// node process beside kube-controller-manager, talking only to the API server.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Component } from './components.js';
import { kubectl } from './kubectl.js';
import { cacheRoot, type Layout } from './layout.js';

/**
 * The newest release the local Go toolchain builds: v1.9.3 and v1.10.2 ask for go >= 1.26.10, and
 * the builds run with GOTOOLCHAIN=local (no toolchain download).
 */
export const ARGO_ROLLOUTS_VERSION = 'v1.10.1';

/** Health and metrics ports in the node namespace (its defaults, 8080 and 8090, are common choices for other things). */
export const ARGO_ROLLOUTS_HEALTHZ_PORT = 10290;
const METRICS_PORT = 10291;

export const ARGO_ROLLOUTS_PROBE = `http://127.0.0.1:${ARGO_ROLLOUTS_HEALTHZ_PORT}/healthz`;

export interface ArgoRollouts {
  controller: string;
  /** The module's manifests/crds/*-crd.yaml. */
  crdsDir: string;
}

export function argoRolloutsDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), 'argo-rollouts', ARGO_ROLLOUTS_VERSION);
}

export function argoRolloutsPaths(env: NodeJS.ProcessEnv = process.env): ArgoRollouts {
  const dir = argoRolloutsDir(env);
  return { controller: join(dir, 'rollouts-controller'), crdsDir: join(dir, 'crds') };
}

export function argoRolloutsCached(env: NodeJS.ProcessEnv = process.env): boolean {
  const p = argoRolloutsPaths(env);
  return existsSync(p.controller) && statSync(p.controller).size > 0 && existsSync(join(p.crdsDir, 'rollout-crd.yaml'));
}

/** The CRD files, in a stable order. */
export function crdFiles(a: ArgoRollouts): string[] {
  return readdirSync(a.crdsDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(a.crdsDir, f));
}

/** Started once its CRDs are established: without them its informers never sync. */
export function argoRolloutsController(l: Layout, a: ArgoRollouts): Component {
  return {
    name: 'argo-rollouts',
    where: { kind: 'holder', holder: 'node-holder' },
    cmd: a.controller,
    args: [
      `--kubeconfig=${l.adminKubeconfig}`,
      '--leader-elect=false',
      `--healthzPort=${ARGO_ROLLOUTS_HEALTHZ_PORT}`,
      `--metricsPort=${METRICS_PORT}`,
      '--loglevel=info',
    ],
    probeUrl: ARGO_ROLLOUTS_PROBE,
  };
}

/**
 * Applies the CRDs (server-side: the Rollout CRD is larger than client-side apply's
 * last-applied annotation may be) and waits until the API server serves them.
 */
export async function applyArgoRolloutsCrds(l: Layout, a: ArgoRollouts): Promise<void> {
  const files = crdFiles(a).flatMap((f) => ['-f', f]);
  await kubectl(l, ['apply', '--server-side', '--force-conflicts', ...files], { timeoutMs: 60_000 });
  await kubectl(l, ['wait', '--for=condition=Established', '--timeout=60s', ...files], { timeoutMs: 70_000 });
}
