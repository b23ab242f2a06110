// The intercepted container's environment written for the tool the user runs locally
// (`--env-file F --env-syntax S`, `--env-json F`): each syntax quotes so that every value arrives
// byte for byte, and a variable that a syntax cannot carry is left out and named, never mangled.

export const ENV_SYNTAXES = ['docker', 'compose', 'sh', 'csh', 'cmd', 'ps'] as const;
export type EnvSyntax = (typeof ENV_SYNTAXES)[number];

export interface EnvFile {
  text: string;
  /** Variables left out, and why (the CLI prints one line each). */
  skipped: { name: string; reason: string }[];
}

/** A name a POSIX shell (and csh) can assign. Kubernetes also allows `.` and `-`. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Line = string | { skip: string };

/** sh, bash, zsh: `export NAME='value'`; inside single quotes only `'` needs care. */
function sh(name: string, value: string): Line {
  if (!SHELL_NAME.test(name)) return { skip: 'not a valid shell variable name' };
  return `export ${name}='${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * csh/tcsh: `setenv NAME 'value'`. Single quotes stop every expansion but history (`!`, escaped as
 * `\!`); a newline inside quotes must be escaped with `\`.
 */
function csh(name: string, value: string): Line {
  if (!SHELL_NAME.test(name)) return { skip: 'not a valid csh variable name' };
  const quoted = value.replace(/'/g, `'\\''`).replace(/!/g, '\\!').replace(/\n/g, '\\\n');
  return `setenv ${name} '${quoted}'`;
}

/** `docker run --env-file`: the rest of the line is the value, with no quoting at all. */
function docker(name: string, value: string): Line {
  if (/[\n\r]/.test(value)) return { skip: "docker's env file can't hold a line break in a value" };
  if (name.includes('=') || /\s/.test(name) || name.startsWith('#')) return { skip: "not a name docker's env file can hold" };
  return `${name}=${value}`;
}

/**
 * Docker Compose `.env`: single-quoted values are literal (`\'` for a quote); values that need
 * escapes (line breaks, a trailing backslash) go in double quotes, where `\\ \" \n \r \t` are
 * escapes and `$` would interpolate, so it is doubled.
 */
function compose(name: string, value: string): Line {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) return { skip: 'not a name a Compose .env file can hold' };
  if (!/[\n\r\t\\]/.test(value)) return `${name}='${value.replace(/'/g, "\\'")}'`;
  const escaped = value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t').replace(/\$/g, '$$$$');
  return `${name}="${escaped}"`;
}

/**
 * Windows cmd (a .cmd/.bat file): `set "NAME=value"` keeps `&|<>^` literal; `%` must be doubled
 * in a batch file. A line break can't be set.
 */
function cmd(name: string, value: string): Line {
  if (/[\n\r]/.test(value)) return { skip: "cmd can't set a value with a line break" };
  if (/[=%"]/.test(name)) return { skip: 'not a name cmd can set' };
  if (value.includes('"')) return { skip: "cmd's set can't hold a double quote in a value" };
  return `set "${name}=${value.replace(/%/g, '%%')}"`;
}

/** PowerShell: `${Env:NAME} = 'value'`; single quotes are literal, `'` doubled. */
function ps(name: string, value: string): Line {
  if (/[{}`]/.test(name)) return { skip: 'not a name PowerShell can set' };
  return `\${Env:${name}} = '${value.replace(/'/g, "''")}'`;
}

const WRITERS: Record<EnvSyntax, (name: string, value: string) => Line> = { docker, compose, sh, csh, cmd, ps };

/** The file for `syntax`, variables sorted by name (stable files diff well). */
export function formatEnv(env: Record<string, string>, syntax: EnvSyntax): EnvFile {
  const lines: string[] = [];
  const skipped: EnvFile['skipped'] = [];
  for (const name of Object.keys(env).sort()) {
    const line = WRITERS[syntax](name, env[name]!);
    if (typeof line === 'string') lines.push(line);
    else skipped.push({ name, reason: line.skip });
  }
  const text = lines.join(syntax === 'cmd' ? '\r\n' : '\n');
  return { text: text ? text + (syntax === 'cmd' ? '\r\n' : '\n') : '', skipped };
}

/** `--env-json`: every variable, as a JSON object. */
export function formatEnvJson(env: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.keys(env).sort().map((k) => [k, env[k]])), null, 2) + '\n';
}

/** `--env-syntax` values are checked before anything happens in the cluster. */
export function parseEnvSyntax(s: string): EnvSyntax | undefined {
  return (ENV_SYNTAXES as readonly string[]).includes(s) ? (s as EnvSyntax) : undefined;
}
