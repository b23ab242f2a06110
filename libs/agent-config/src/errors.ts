// Why a workload or a pod cannot get a traffic agent, as data: `list` shows the reason, the
// manager refuses the intercept with it, and the webhook logs it and leaves the pod alone.

export type NotInterceptableReason =
  | 'host-network'
  | 'no-service'
  | 'no-ports'
  | 'container-name-taken'
  | 'port-name-taken'
  | 'port-name-too-long'
  | 'env-name-taken'
  | 'unsupported-protocol'
  | 'port-ambiguous'
  | 'mesh-proxy-uid';

export class AgentConfigError extends Error {
  constructor(
    readonly reason: NotInterceptableReason,
    message: string,
    /** What the user can do about it. */
    readonly hint: string,
  ) {
    super(message);
    this.name = 'AgentConfigError';
  }
}
