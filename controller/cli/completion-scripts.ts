/**
 * Shell completion scripts for kvmctl, generated from its command tree
 * (shared/cli-docs/command-tree.ts): commands and subcommands, each one's
 * options and the program's, the values of options and arguments that list
 * them (`--engine`, `--compress`, `completion bash|zsh|fish`), and file names
 * for options whose value is a file, directory or path. bash gets a function
 * with one table per command; zsh loads the same through bashcompinit; fish
 * gets native `complete` lines.
 */
import { allCommands, type DocCommand, type DocOption } from '../../shared/cli-docs/command-tree.js';

/** Shells a script is made for. */
export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** Placeholders whose values are file names. */
const FILE_VALUES = /^(file|dir|path|directory)$/;

/** Single-quoted for sh/fish. */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function optionNames(o: DocOption): string[] {
  return [o.long, o.short].filter((n) => n !== '');
}

/** A command's key in the bash tables: its path below the program. */
function bashKey(c: DocCommand): string {
  return c.path.join(' ');
}

/** The `case` lines of the bash lookup functions, one table per function. */
interface BashTables {
  subs: string[];
  opts: string[];
  valued: string[];
  argChoices: string[];
}

/** The `COMMAND|OPTION) echo VALUES; return ;;` lines of the options that take a value. */
function bashValuedLines(commands: readonly DocCommand[]): string[] {
  const valued: string[] = [];
  for (const c of commands) {
    for (const o of c.options) {
      if (o.value === '') continue;
      const what = o.choices.length > 0 ? `echo ${quote(o.choices.join(' '))}` : FILE_VALUES.test(o.value) ? 'echo @files' : 'echo @any';
      for (const n of optionNames(o)) valued.push(`    ${quote(`${bashKey(c)}|${n}`)}) ${what}; return ;;`);
    }
  }
  return valued;
}

/** The tables of the bash lookup functions, from the command tree. */
function bashTables(root: DocCommand): BashTables {
  const commands = allCommands(root);
  const subs = commands.map((c) => `    ${quote(bashKey(c))}) echo ${quote(c.commands.map((s) => s.name).join(' '))} ;;`);
  const opts = commands.map((c) => `    ${quote(bashKey(c))}) echo ${quote([...c.options.flatMap(optionNames), '--help'].join(' '))} ;;`);
  const valued = bashValuedLines(commands);
  const argChoices = commands
    .filter((c) => c.arguments[0] !== undefined && c.arguments[0].choices.length > 0)
    .map((c) => `    ${quote(bashKey(c))}) echo ${quote(c.arguments[0]?.choices.join(' ') ?? '')} ;;`);
  return { subs, opts, valued, argChoices };
}

/** The bash lookup functions: a command's subcommands, its options, an option's values, its argument's values. */
function bashLookups(root: DocCommand, { subs, opts, valued, argChoices }: BashTables): string {
  return `# bash completion for ${root.name} (generated: ${root.name} completion bash)
_${root.name}_subs() {
  case "$1" in
${subs.join('\n')}
  esac
}
_${root.name}_opts() {
  case "$1" in
${opts.join('\n')}
  esac
}
# "@files", "@any" (a value of the user's own), or the values the option allows; nothing when it takes none
_${root.name}_value() {
  case "$1|$2" in
${valued.join('\n')}
  esac
  case "|$2" in
${valued
  .filter((v) => v.startsWith("    '|"))
  .map((v) => v.replace("    '|", "    '|"))
  .join('\n')}
  esac
}
_${root.name}_args() {
  case "$1" in
${argChoices.join('\n')}
  esac
}
`;
}

/** The completion function itself, which walks the words typed so far, and its registration. */
function bashCompleter(root: DocCommand): string {
  return `_${root.name}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path="" i w v sub
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ $w == -* ]]; then
      [[ -n $(_${root.name}_value "$path" "$w") ]] && ((i++))
      continue
    fi
    for sub in $(_${root.name}_subs "$path"); do
      if [[ $sub == "$w" ]]; then path="\${path:+$path }$w"; break; fi
    done
  done
  v=$(_${root.name}_value "$path" "\${COMP_WORDS[COMP_CWORD-1]}")
  case "$v" in
    "") ;;
    @files) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
    @any) return ;;
    *) mapfile -t COMPREPLY < <(compgen -W "$v" -- "$cur"); return ;;
  esac
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_${root.name}_opts "$path") $(_${root.name}_opts "")" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -W "$(_${root.name}_subs "$path") $(_${root.name}_args "$path")" -- "$cur")
  fi
}
complete -F _${root.name} ${root.name}
`;
}

function bashScript(root: DocCommand): string {
  return bashLookups(root, bashTables(root)) + bashCompleter(root);
}

function zshScript(root: DocCommand): string {
  return `#compdef ${root.name}
# zsh completion for ${root.name} (generated: ${root.name} completion zsh): the bash completion, through bashcompinit
autoload -U +X bashcompinit && bashcompinit
${bashScript(root)}`;
}

function fishScript(root: DocCommand): string {
  const lines = [`# fish completion for ${root.name} (generated: ${root.name} completion fish)`, `complete -c ${root.name} -f`];
  const condition = (c: DocCommand): string => {
    if (c.path.length === 0) return '__fish_use_subcommand';
    const parts = c.path.map((p) => `__fish_seen_subcommand_from ${p}`);
    return parts.join('; and ');
  };
  const optionLine = (o: DocOption, cond: string | undefined): string => {
    const names = [o.long !== '' ? `-l ${o.long.replace(/^--/, '')}` : '', o.short !== '' ? `-s ${o.short.replace(/^-/, '')}` : ''].filter((n) => n !== '').join(' ');
    const value = o.value === '' ? '' : o.choices.length > 0 ? ` -x -a ${quote(o.choices.join(' '))}` : FILE_VALUES.test(o.value) ? ' -r -F' : ' -x';
    return `complete -c ${root.name}${cond === undefined ? '' : ` -n ${quote(cond)}`} ${names}${value} -d ${quote(o.description.slice(0, 80))}`;
  };
  for (const o of root.options) lines.push(optionLine(o, undefined));
  for (const c of allCommands(root)) {
    const below = c.commands;
    const cond = c.path.length === 0 ? '__fish_use_subcommand' : `${condition(c)}; and not __fish_seen_subcommand_from ${below.map((s) => s.name).join(' ') || '--'}`;
    for (const s of below) lines.push(`complete -c ${root.name} -n ${quote(cond)} -a ${s.name} -d ${quote(s.description.slice(0, 80))}`);
    if (c.path.length === 0) continue;
    for (const o of c.options) lines.push(optionLine(o, condition(c)));
    const choices = c.arguments[0]?.choices ?? [];
    if (choices.length > 0) lines.push(`complete -c ${root.name} -n ${quote(condition(c))} -a ${quote(choices.join(' '))}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The completion script of `shell` for the tree. */
export function completionScript(root: DocCommand, shell: CompletionShell): string {
  switch (shell) {
    case 'bash':
      return bashScript(root);
    case 'zsh':
      return zshScript(root);
    case 'fish':
      return fishScript(root);
  }
}
