// What the intercept state needs from the agent injector (inject/): describe a workload, make its
// pods carry the agent (or not), and report the rollout. An interface so the state's logic is
// tested against a fake while the injector is tested against the real cluster.
import type { V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import type { AgentConfig, AgentConfigError, InterceptablePort } from '@tel/agent-config';
import type { InterceptErrorCode } from '@tel/contracts';
import type { WorkloadRef } from './agents.js';

export interface WorkloadInfo {
  ref: WorkloadRef;
  template: V1PodTemplateSpec;
  services: V1Service[];
  ports: InterceptablePort[];
  /** Why no agent can be added (then config and hash are absent). */
  problem?: AgentConfigError;
  config?: AgentConfig;
  hash?: string;
  /** The template's agent annotation now (the hash of the agent its pods run or roll to). */
  currentHash?: string;
  replicas: number;
}

export interface RolloutStatus {
  podsWanted: number;
  podsReady: number;
  done: boolean;
  message: string;
  failure?: { code: InterceptErrorCode; message: string; hint: string };
}

export interface AgentInstaller {
  /** Throws an error with `code: 'no-workload'` when the namespace has no such workload. */
  describe(namespace: string, name: string, kind?: WorkloadRef['kind']): Promise<WorkloadInfo>;
  ensureAgent(info: WorkloadInfo): Promise<{ changed: boolean }>;
  removeAgent(ref: WorkloadRef): Promise<boolean>;
  watchRollout(ref: WorkloadRef, hash: string, onStatus: (s: RolloutStatus) => void, signal: AbortSignal): void;
}
