// Opt-in V8 CPU profile of a daemon, for finding where tunnel time goes (bench/connect):
// TELEPRESENCE_CPU_PROFILE_DIR=<dir> makes the daemon write <dir>/<name>-<pid>.cpuprofile on
// shutdown. Node refuses --cpu-prof in NODE_OPTIONS, and daemons are started by the CLI, so the
// profiler is started from inside through the inspector.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function startCpuProfileFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): (() => Promise<void>) | undefined {
  const dir = env.TELEPRESENCE_CPU_PROFILE_DIR;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  const started = post('Profiler.enable').then(() => post('Profiler.setSamplingInterval', { interval: 200 })).then(() => post('Profiler.start'));
  return async () => {
    await started;
    const { profile } = await post('Profiler.stop');
    writeFileSync(join(dir, `${name.replace(/\W+/g, '-').toLowerCase()}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}
