/**
 * A CLI's commander tree as plain data: every command with its usage,
 * description, arguments and options. The man pages (man-page.ts) and the
 * shell completions (controller/cli/completion-scripts.ts) are rendered from
 * it, so both say exactly what `--help` says.
 */
import type { Command } from 'commander';

/** One option of a command. */
export interface DocOption {
  /** As written in help: "-s, --socket <path>". */
  flags: string;
  long: string;
  short: string;
  description: string;
  /** The value's placeholder ("path") when the option takes one, else "". */
  value: string;
  /** Allowed values, when the option lists them. */
  choices: readonly string[];
}

/** One positional argument. */
export interface DocArgument {
  name: string;
  description: string;
  required: boolean;
  choices: readonly string[];
}

/** One command and what is below it. */
export interface DocCommand {
  name: string;
  /** Names from the root down, the root's excluded ([] for the root, ["replica", "add"]). */
  path: readonly string[];
  usage: string;
  description: string;
  arguments: readonly DocArgument[];
  options: readonly DocOption[];
  commands: readonly DocCommand[];
}

/** The placeholder of an option's value: "<file>" or "[n]" → "file", "n". */
function placeholder(flags: string): string {
  return /[<[]([^>\]]+)[>\]]/.exec(flags)?.[1] ?? '';
}

/** Walks `command` and everything below it; hidden commands and options are left out. */
export function commandTree(command: Command, path: readonly string[] = []): DocCommand {
  const hidden = (c: Command): boolean => (c as unknown as { _hidden?: boolean })._hidden === true;
  return {
    name: command.name(),
    path,
    usage: command.usage(),
    description: command.description(),
    arguments: command.registeredArguments.map((a) => ({ name: a.name(), description: a.description, required: a.required, choices: a.argChoices ?? [] })),
    options: command.options
      .filter((o) => !o.hidden)
      .map((o) => ({
        flags: o.flags,
        long: o.long ?? '',
        short: o.short ?? '',
        description: o.description,
        value: o.required || o.optional ? placeholder(o.flags) : '',
        choices: o.argChoices ?? [],
      })),
    commands: command.commands.filter((c) => !hidden(c)).map((c) => commandTree(c, [...path, c.name()])),
  };
}

/** Every command of the tree, depth first, the root first. */
export function allCommands(root: DocCommand): DocCommand[] {
  return [root, ...root.commands.flatMap(allCommands)];
}
