import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { stateOfDeployment } from './state.js';

function deployment(p: { image?: string; annotations?: Record<string, string>; generation?: number; status?: V1Deployment['status']; deleting?: boolean }): V1Deployment {
  return {
    metadata: { name: 'traffic-manager', generation: p.generation ?? 1, annotations: p.annotations ?? {}, ...(p.deleting ? { deletionTimestamp: new Date() } : {}) },
    spec: { replicas: 1, selector: {}, template: { spec: { containers: [{ name: 'traffic-manager', image: p.image ?? 'r/tel2:v2.5.4' }] } } },
    status: p.status ?? {},
  };
}

describe('stateOfDeployment (the only source of install state)', () => {
  it('no Deployment, or one being deleted, is not installed', () => {
    expect(stateOfDeployment(undefined)).toEqual({ installed: false, ready: false });
    expect(stateOfDeployment(deployment({ deleting: true })).installed).toBe(false);
  });
  it('the image tag gives the version; the annotation the API version', () => {
    expect(stateOfDeployment(deployment({ image: 'r/tel2:v2.5.4', annotations: { 'telepresence.io/version': 'v9', 'telepresence.io/api-version': '1' } }))).toEqual({
      installed: true,
      ready: false,
      version: 'v2.5.4',
      apiVersion: 1,
      image: 'r/tel2:v2.5.4',
    });
    expect(stateOfDeployment(deployment({ image: 'r/tel2:latest', annotations: { 'telepresence.io/version': 'v2.5.3' } })).version).toBe('v2.5.3');
    expect(stateOfDeployment(deployment({ image: 'docker.io/datawire/tel2:2.5.4' })).version).toBe('v2.5.4');
    expect(stateOfDeployment(deployment({ image: 'r/tel2:latest' })).version).toBeUndefined();
  });
  it.each([
    [{ observedGeneration: 1, updatedReplicas: 1, availableReplicas: 1 }, 1, true],
    [{ observedGeneration: 1, updatedReplicas: 1, availableReplicas: 0 }, 1, false],
    [{ observedGeneration: 1, updatedReplicas: 1, availableReplicas: 1 }, 2, false],
    [{ observedGeneration: 2, updatedReplicas: 0, availableReplicas: 1 }, 2, false],
  ])('status %j at generation %d → ready %s', (status, generation, ready) => {
    expect(stateOfDeployment(deployment({ status, generation })).ready).toBe(ready);
  });
});
