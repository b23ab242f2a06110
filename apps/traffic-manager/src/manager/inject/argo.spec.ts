import { describe, expect, it } from 'vitest';
import { argoRolloutProgress, type ArgoRollout } from './argo.js';

const rollout = (status: ArgoRollout['status'], generation = 3, replicas = 2): ArgoRollout => ({ metadata: { name: 'web', generation }, spec: { replicas }, status });

describe('argoRolloutProgress', () => {
  it('done only when the controller saw this generation and every replica is updated and available, none extra', () => {
    const full = { observedGeneration: '3', replicas: 2, updatedReplicas: 2, availableReplicas: 2, phase: 'Healthy' };
    expect(argoRolloutProgress(rollout(full)).done).toBe(true);
    expect(argoRolloutProgress(rollout({ ...full, observedGeneration: '2' }))).toEqual({ done: false, message: 'the Argo Rollouts controller has not seen the change yet' });
    expect(argoRolloutProgress(rollout({ ...full, updatedReplicas: 1 })).message).toBe('the Argo Rollouts controller reports 1/2 updated, 2/2 available');
    expect(argoRolloutProgress(rollout({ ...full, availableReplicas: 1 })).done).toBe(false);
    expect(argoRolloutProgress(rollout({ ...full, replicas: 3 })).done).toBe(false);
    expect(argoRolloutProgress(rollout(undefined)).done).toBe(false);
  });
  it('degraded and paused say so', () => {
    const base = { observedGeneration: '3', replicas: 2, updatedReplicas: 1, availableReplicas: 2 };
    expect(argoRolloutProgress(rollout({ ...base, phase: 'Degraded', message: 'ProgressDeadlineExceeded: too slow' })).message).toBe('the Argo Rollouts controller reports it degraded: ProgressDeadlineExceeded: too slow');
    expect(argoRolloutProgress(rollout({ ...base, phase: 'Paused', pauseConditions: [{ reason: 'CanaryPauseStep' }] })).message).toContain('paused (CanaryPauseStep)');
  });
  it('replicas default to 1', () => {
    expect(argoRolloutProgress({ metadata: { generation: 1 }, spec: {}, status: { observedGeneration: '1', replicas: 1, updatedReplicas: 1, availableReplicas: 1 } }).done).toBe(true);
  });
});
