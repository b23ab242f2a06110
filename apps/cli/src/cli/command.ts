// Commands are data: name, flags, what they require (nothing, the daemons, a session), a handler.
// run.ts turns the list into the parser and resolves `requires` in one place (ensureDaemons);
// handlers get their options typed from the flag specs, without casts.
import { DEFAULT_MANAGER_NAMESPACE, type UserDaemonContract } from '@tel/contracts';
import type { Client } from '@tel/ipc';
import { homedir } from 'node:os';
import { delimiter, resolve } from 'node:path';
import { userError } from '@tel/errors';
import type { Config } from '../config/config.js';
import type { KubeconfigSource } from '../kube/kubeconfig.js';
import type { EnsuredDaemons } from './daemons.js';
import type { Output } from './output.js';

export interface Flag {
  /** Commander flag syntax, e.g. '-s, --stop-daemons', '--context <name>', '--also-proxy <cidr...>'. */
  flags: string;
  description: string;
  default?: string | boolean;
  /** Given again, adds a value (`--http-header a=1 --http-header b=2`): a string[], empty when absent. Unlike `<x...>` it never swallows the arguments after it. */
  repeatable?: true;
}

/**
 * The kubectl flags of every command that reads a kubeconfig (connect, helm, version, and the
 * commands that connect on demand): one definition. `--cluster` and `--user` are not offered: the
 * kubeconfig loader selects a cluster and user through a context only.
 */
export const KUBE_FLAGS = [
  { flags: '--kubeconfig <files>', description: 'kubeconfig file(s), separated by ":" (default: $KUBECONFIG or ~/.kube/config)' },
  { flags: '--context <name>', description: 'the kubeconfig context to use (default: its current-context)' },
] as const;

/** `--manager-namespace` wherever a command finds the manager; never `-n`: that is the workloads' namespace. */
export const MANAGER_NAMESPACE_FLAG = {
  flags: '--manager-namespace <namespace>',
  description: `namespace of the Traffic Manager (default: the kubeconfig's telepresence.io manager.namespace, else ${DEFAULT_MANAGER_NAMESPACE})`,
} as const;

/** The options KUBE_FLAGS give a handler. */
export interface KubeOptions {
  kubeconfig?: string;
  context?: string;
}

/** Whether the user named a kubeconfig or context on the command line. */
export function hasKubeFlags(opts: KubeOptions): boolean {
  return opts.kubeconfig !== undefined || opts.context !== undefined;
}

/** Where to read the kubeconfig from: the flags over KUBECONFIG over ~/.kube/config. */
export function kubeconfigSource(env: NodeJS.ProcessEnv, opts: KubeOptions): KubeconfigSource {
  if (opts.kubeconfig !== undefined && opts.kubeconfig.trim() === '') throw userError('--kubeconfig is empty', 'name a kubeconfig file, or leave the flag out to use $KUBECONFIG or ~/.kube/config');
  if (opts.context !== undefined && opts.context.trim() === '') throw userError('--context is empty', 'name a context (telepresence list-contexts shows them), or leave the flag out');
  // Absolute: the user daemon reads them, from another working directory.
  const kubeconfigEnv = (opts.kubeconfig ?? env.KUBECONFIG)
    ?.split(delimiter)
    .filter((f) => f.length > 0)
    .map((f) => resolve(f))
    .join(delimiter);
  return { home: env.HOME || homedir(), ...(kubeconfigEnv ? { kubeconfigEnv } : {}), ...(opts.context ? { context: opts.context } : {}) };
}

/** What a command needs before its handler runs; run.ts provides it, commands never start daemons. */
export type Requires = 'none' | 'daemons' | 'session';

export interface CommandContext {
  out: Output;
  /** Loaded lazily: a broken config.yml must not stop `telepresence quit`. */
  config(): Config;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C: pass it to daemon calls so the daemon side stops too. */
  signal: AbortSignal;
}

/** Both daemons of this build run; `userDaemon` is connected (closed by run.ts afterwards). */
export interface DaemonsContext extends CommandContext {
  daemons: EnsuredDaemons;
  userDaemon: Client<UserDaemonContract>;
}

type ContextFor<R extends Requires> = R extends 'none' ? CommandContext : DaemonsContext;

// Option types from flag syntax: '--manager-namespace <ns>' → managerNamespace: string,
// '<x...>' → string[], no value → boolean; optional unless the flag has a default.
type LongName<F extends string> = F extends `${string}--${infer Rest}` ? (Rest extends `${infer N} ${string}` ? N : Rest) : never;
type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;
type ValueOf<F extends string> = F extends `${string}...${'>' | ']'}` ? string[] : F extends `${string}${'<' | '['}${string}` ? string : boolean;
type KeyOf<E extends Flag> = Camel<LongName<E['flags']>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type Always = { default: string | boolean } | { repeatable: true };
export type OptionsOf<F extends readonly Flag[]> = Simplify<
  { [E in F[number] as E extends Always ? KeyOf<E> : never]: E extends { repeatable: true } ? string[] : ValueOf<E['flags']> } & {
    [E in F[number] as E extends Always ? never : KeyOf<E>]?: ValueOf<E['flags']>;
  }
>;

export interface CommandSpec<F extends readonly Flag[] = readonly Flag[], R extends Requires = Requires> {
  name: string;
  description: string;
  flags?: F;
  /** Positional arguments in commander syntax, e.g. '<cmd>', '[names...]'. */
  args?: string[];
  /** Real subcommands (`helm install|upgrade|uninstall`); a command with them has no handler of its own. */
  subcommands?: AnyCommand[];
  /** Accepts arguments after `--`, passed through untouched (e.g. `intercept x -- cmd args`). */
  passThrough?: boolean;
  hidden?: boolean;
  /** This command runs a daemon in this process: signals belong to the daemon runtime. */
  runsDaemon?: boolean;
  requires: R;
  /** Runs before `requires` is resolved: bad flags fail without starting anything. */
  validate?(opts: OptionsOf<F>, args: string[]): void;
  run?(ctx: ContextFor<R>, opts: OptionsOf<F>, args: string[], passThrough: string[]): Promise<number | void>;
}

/** A command of any flags and requirement, as the parser sees it. */
export interface AnyCommand {
  name: string;
  description: string;
  flags?: readonly Flag[];
  args?: string[];
  subcommands?: AnyCommand[];
  passThrough?: boolean;
  hidden?: boolean;
  runsDaemon?: boolean;
  requires: Requires;
  validate?(opts: Record<string, unknown>, args: string[]): void;
  run?(ctx: DaemonsContext, opts: Record<string, unknown>, args: string[], passThrough: string[]): Promise<number | void>;
}

/** Declares a command; `const` keeps the flag strings literal so the option types can be read off them. */
export function defineCommand<const F extends readonly Flag[] = readonly [], R extends Requires = 'none'>(spec: CommandSpec<F, R>): AnyCommand {
  return spec as unknown as AnyCommand;
}
