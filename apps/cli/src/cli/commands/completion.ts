// `telepresence completion bash|zsh|fish`: a shell completion script generated from the command
// data (commands, subcommands, flags), so a new command or flag completes without touching this.
import { userError } from '@tel/errors';
import { defineCommand, type AnyCommand, type Flag } from '../command.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

/** The program's own options (run.ts): every command accepts them. */
const GLOBAL_FLAGS: Flag[] = [
  { flags: '-o, --output <format>', description: 'output format (default or json)' },
  { flags: '--verbose', description: 'print stack traces of unexpected errors' },
  { flags: '-h, --help', description: 'display help for command' },
];
const OUTPUT_FORMATS = ['default', 'json'];

interface FlagInfo {
  names: string[];
  short?: string;
  long?: string;
  takesValue: boolean;
  /** The value names a file (`<file>`, `<files>`): the shell completes paths there. */
  fileValue: boolean;
  description: string;
}

function flagInfo(f: Flag): FlagInfo {
  const short = /(?:^|[\s,])(-[A-Za-z])\b/.exec(f.flags)?.[1];
  const long = /(--[A-Za-z0-9-]+)/.exec(f.flags)?.[1];
  const value = /[<[]([^>\]]*)[>\]]/.exec(f.flags)?.[1];
  return { names: [short, long].filter((n): n is string => !!n), ...(short ? { short } : {}), ...(long ? { long } : {}), takesValue: value !== undefined, fileValue: /file/i.test(value ?? ''), description: f.description };
}

/** Every command path (`''`, `helm`, `helm install`) with its subcommands, flags and positional choices. */
interface Node {
  path: string;
  command?: AnyCommand;
  subcommands: AnyCommand[];
  flags: FlagInfo[];
  /** Choices of the first positional argument, when its spec lists them (`<bash|zsh|fish>`). */
  choices: string[];
}

function nodes(commands: AnyCommand[]): Node[] {
  const visible = (cs: AnyCommand[] | undefined) => (cs ?? []).filter((c) => !c.hidden);
  const out: Node[] = [{ path: '', subcommands: visible(commands), flags: GLOBAL_FLAGS.map(flagInfo), choices: [] }];
  const walk = (c: AnyCommand, path: string) => {
    const arg = c.args?.[0];
    const choices = arg && arg.includes('|') ? arg.replace(/[<>[\]]/g, '').split('|') : [];
    out.push({ path, command: c, subcommands: visible(c.subcommands), flags: [...(c.flags ?? []), ...GLOBAL_FLAGS].map(flagInfo), choices });
    for (const s of visible(c.subcommands)) walk(s, `${path} ${s.name}`);
  };
  for (const c of visible(commands)) walk(c, c.name);
  return out;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bashScript(commands: AnyCommand[]): string {
  const ns = nodes(commands);
  const cases = (f: (n: Node) => string[]) =>
    ns
      .map((n) => [n, f(n)] as const)
      .filter(([, words]) => words.length > 0)
      .map(([n, words]) => `    ${q(n.path)}) echo ${q(words.join(' '))} ;;`)
      .join('\n');
  return `# telepresence completion for bash: source it, e.g. from ~/.bashrc:
#   source <(telepresence completion bash)
__telepresence_subcommands() {
  case "$1" in
${cases((n) => n.subcommands.map((c) => c.name))}
  esac
}
__telepresence_flags() {
  case "$1" in
${cases((n) => n.flags.flatMap((f) => f.names))}
  esac
}
__telepresence_valued_flags() {
  case "$1" in
${cases((n) => n.flags.filter((f) => f.takesValue).flatMap((f) => f.names))}
  esac
}
__telepresence_file_flags() {
  case "$1" in
${cases((n) => n.flags.filter((f) => f.fileValue).flatMap((f) => f.names))}
  esac
}
__telepresence_choices() {
  case "$1" in
${cases((n) => n.choices)}
  esac
}
_telepresence() {
  # zsh (through bashcompinit) indexes arrays from 1 unless told otherwise; this function counts as bash does.
  [[ -n "\${ZSH_VERSION-}" ]] && setopt localoptions ksharrays
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" path="" w i skip=0
  ((COMP_CWORD > 0)) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  # 1. Walk the words before the cursor: subcommands deepen the path, a flag that takes a value
  #    swallows the next word, and after -- nothing is ours to complete.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$w" in
      --) return 0 ;;
      --*=*) continue ;;
      -*) [[ " $(__telepresence_valued_flags "$path") " == *" $w "* ]] && skip=1; continue ;;
    esac
    [[ " $(__telepresence_subcommands "$path") " == *" $w "* ]] && path="\${path:+$path }$w"
  done
  # 2. The value of a flag: output formats, paths, or nothing to offer.
  if ((skip)); then
    case "$prev" in
      -o|--output) COMPREPLY=($(compgen -W ${q(OUTPUT_FORMATS.join(' '))} -- "$cur")) ;;
      *) [[ " $(__telepresence_file_flags "$path") " == *" $prev "* ]] && COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
    return 0
  fi
  # 3. A flag, a subcommand, or a choice of the first argument.
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(__telepresence_flags "$path")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(__telepresence_subcommands "$path") $(__telepresence_choices "$path")" -- "$cur"))
  fi
}
complete -F _telepresence telepresence
`;
}

function zshScript(commands: AnyCommand[]): string {
  // zsh runs the bash function through its bashcompinit layer: one generator, one behaviour.
  return `#compdef telepresence
# telepresence completion for zsh: source it, e.g. from ~/.zshrc:
#   source <(telepresence completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashScript(commands).split('\n').filter((l) => !l.startsWith('# telepresence completion for bash') && !l.startsWith('#   source')).join('\n')}`;
}

function fishScript(commands: AnyCommand[]): string {
  const ns = nodes(commands);
  const switchOn = (name: string, f: (n: Node) => string[]) =>
    [
      `function ${name}`,
      '    switch "$argv[1]"',
      ...ns.filter((n) => f(n).length > 0).flatMap((n) => [`        case ${q(n.path)}`, `            printf '%s\\n' ${f(n).map(q).join(' ')}`]),
      '    end',
      'end',
    ].join('\n');
  // Command paths are names of [a-z-] only: double quotes inside the single-quoted condition are safe.
  const at = (path: string) => q(`__telepresence_at "${path}"`);
  const lines = [
    '# telepresence completion for fish: telepresence completion fish > ~/.config/fish/completions/telepresence.fish',
    switchOn('__telepresence_subcommands', (n) => n.subcommands.map((c) => c.name)),
    switchOn('__telepresence_valued_flags', (n) => n.flags.filter((f) => f.takesValue).flatMap((f) => f.names)),
    // The same walk as the bash function: subcommands deepen the path, a flag's value is skipped,
    // after -- the words belong to another program.
    `function __telepresence_path
    set -l path ''
    set -l skip 0
    for w in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case '--'
                echo ' --'
                return
            case '--*=*'
                continue
            case '-*'
                contains -- $w (__telepresence_valued_flags "$path"); and set skip 1
                continue
        end
        contains -- $w (__telepresence_subcommands "$path"); and set path (string trim -- "$path $w")
    end
    echo $path
end
function __telepresence_at
    set -l p (__telepresence_path)
    test "$p" = "$argv[1]"
end`,
    'complete -c telepresence -f',
  ];
  for (const n of ns) {
    for (const c of n.subcommands) lines.push(`complete -c telepresence -n ${at(n.path)} -a ${q(c.name)} -d ${q(c.description)}`);
    for (const choice of n.choices) lines.push(`complete -c telepresence -n ${at(n.path)} -a ${q(choice)}`);
    for (const f of n.command?.flags?.map(flagInfo) ?? []) {
      const value = f.takesValue ? (f.fileValue ? ' -r -F' : ' -x') : '';
      lines.push(`complete -c telepresence -n ${at(n.path)}${f.short ? ` -s ${f.short.slice(1)}` : ''}${f.long ? ` -l ${f.long.slice(2)}` : ''}${value} -d ${q(f.description)}`);
    }
  }
  lines.push(
    `complete -c telepresence -n 'not __telepresence_at " --"' -s o -l output -x -a ${q(OUTPUT_FORMATS.join(' '))} -d 'output format'`,
    `complete -c telepresence -n 'not __telepresence_at " --"' -l verbose -d 'print stack traces of unexpected errors'`,
  );
  return `${lines.join('\n')}\n`;
}

/** The completion script for `shell`, generated from `commands`. */
export function completionScript(shell: Shell, commands: AnyCommand[]): string {
  return { bash: bashScript, zsh: zshScript, fish: fishScript }[shell](commands);
}

/** The command; `commands` is read when it runs, so the list can include this command itself. */
export function completionCommand(commands: () => AnyCommand[]): AnyCommand {
  return defineCommand({
    name: 'completion',
    description: 'Print a shell completion script (bash, zsh or fish)',
    args: [`<${SHELLS.join('|')}>`],
    requires: 'none',
    validate(_opts, args) {
      if (!(SHELLS as readonly string[]).includes(args[0]!)) throw userError(`unknown shell ${JSON.stringify(args[0])}`, `use one of ${SHELLS.join(', ')}`);
    },
    async run(ctx, _opts, args) {
      const script = completionScript(args[0] as Shell, commands());
      // The script is the output in both formats; json wraps it for tools that want a document.
      ctx.out.result({ shell: args[0], script }, () => script.trimEnd());
    },
  });
}
