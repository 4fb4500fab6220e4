/**
 * `kvmctl completion bash|zsh|fish`: prints the shell completion script for
 * kvmctl, generated from the same command tree that parses the command line
 * (controller/cli/program.ts), so it offers exactly the verbs and options
 * this kvmctl has. The package installs the three scripts where each shell
 * looks; by hand: `source <(kvmctl completion bash)`.
 */
import { Argument, Command } from 'commander';
import { commandTree } from '../../shared/cli-docs/command-tree.js';
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from '../cli/completion-scripts.js';

/** The completion command; it reads the tree from the program it is added to. */
export function completionCommand(): Command {
  return new Command('completion')
    .description('print the shell completion script (bash, zsh or fish) for kvmctl')
    .addArgument(new Argument('<shell>', 'the shell').choices(COMPLETION_SHELLS))
    .action((shell: CompletionShell, _flags: unknown, command: Command) => {
      const root = command.parent ?? command;
      process.stdout.write(completionScript(commandTree(root), shell));
    });
}
