// `--port LOCAL[:REMOTE]` of `telepresence intercept`, as 2.x reads it: the workstation port, then
// optionally the Service port by number or by name. The one parser of that grammar.
import { userError } from '@tel/errors';

export interface PortFlag {
  local: number;
  remote?: number | string;
}

const NUMBER = /^[1-9][0-9]{0,4}$/;
/** Kubernetes' IANA_SVC_NAME (a Service port's name). */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

export function parsePortFlag(s: string): PortFlag {
  const bad = (why: string) => userError(`invalid --port ${JSON.stringify(s)}: ${why}`, 'use LOCAL or LOCAL:SERVICEPORT, e.g. --port 8080 or --port 8080:80 or --port 8080:http');
  const [local, remote, ...more] = s.split(':');
  if (more.length) throw bad('more than one ":"');
  if (!NUMBER.test(local ?? '') || Number(local) > 65535) throw bad(`${JSON.stringify(local)} is not a port number (1-65535)`);
  if (remote === undefined) return { local: Number(local) };
  if (NUMBER.test(remote) && Number(remote) <= 65535) return { local: Number(local), remote: Number(remote) };
  if (PORT_NAME.test(remote) && !remote.includes('--')) return { local: Number(local), remote };
  throw bad(`${JSON.stringify(remote)} is neither a port number nor a port name`);
}
