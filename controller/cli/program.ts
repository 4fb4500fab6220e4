/**
 * kvmctl's command tree: every verb, its options and help. Built here once
 * and used three ways — parsed by main.ts, walked by `kvmctl completion` for
 * the shell completions, and rendered into the kvmctl(1) man page at build
 * time (scripts/gen-docs.mjs) — so the help, the completions and the manual
 * cannot disagree.
 */
import { Command, Option } from 'commander';
import { KVMCLONE_VERSION } from '../../shared/version.js';
import { auditCommand } from '../commands/audit.js';
import { cloneCommand } from '../commands/clone.js';
import { failbackCommand } from '../commands/failback.js';
import { failoverCommand } from '../commands/failover.js';
import { gcCommand } from '../commands/gc.js';
import { hostsCommand } from '../commands/hosts-check.js';
import { lsCommand } from '../commands/ls.js';
import { opsCommand } from '../commands/ops.js';
import { pointsCommand, restoreCommand } from '../commands/points.js';
import { deleteCommand } from '../commands/delete.js';
import { configCommand } from '../commands/config.js';
import { syncCommand } from '../commands/sync.js';
import { replicaCommand } from '../commands/replica.js';
import { replicateCommand } from '../commands/replicate.js';
import { statusCommand } from '../commands/status.js';
import { completionCommand } from '../commands/completion.js';

/** Usage errors anywhere in the tree exit 2 (the README's exit-code table; main.ts maps commander's exits), not commander's default 1. */
function usageExits(command: Command): Command {
  command.exitOverride().showHelpAfterError();
  command.commands.forEach(usageExits);
  return command;
}

/** Runs a verb's exit code to the end (main.ts exits with it). */
export type RunVerb = (code: Promise<number>) => void;

/** The whole tree; `run` receives each verb's exit code. */
export function buildProgram(run: RunVerb): Command {
  const program = new Command('kvmctl')
    .description('clone KVM VMs between hosts over SSH and keep clones in sync')
    .version(KVMCLONE_VERSION)
    .option('--config <file>', 'config file (default $XDG_CONFIG_HOME/kvmclone/kvmctl.yaml; absent = defaults)')
    .option('--ssh-config <file>', 'ssh config file (default ~/.ssh/config)')
    .option('--known-hosts <file>', 'known_hosts file (default: what the ssh config says, else ~/.ssh/known_hosts)')
    .option('--identity <file>', "identity file, in addition to ssh-agent and the ssh config's IdentityFile")
    .option('--agent-socket <path>', "the agent's admin socket on the remote hosts (default /run/kvmclone/agent.sock)")
    .option(
      '--agent-ro-socket <path>',
      "the agent's read-only socket, for ls, hosts check and --dry-run (default /run/kvmclone/agent-ro.sock; an agent without one is reached on --agent-socket)",
    )
    .addOption(new Option('--engine <engine>', 'SSH engine (default auto: OpenSSH when installed, else ssh2)').choices(['auto', 'openssh', 'ssh2']))
    .option('--json', 'NDJSON events on stdout; the last line is the result object')
    .option('--yes', 'never prompt')
    .option('--verbose', 'debug lines, and the underlying error (SSH, gRPC) under a failure; as KVMCTL_DEBUG=1')
    .exitOverride()
    .showHelpAfterError();

  for (const command of [
    hostsCommand(run),
    lsCommand(run),
    cloneCommand(run),
    syncCommand(run),
    pointsCommand(run),
    restoreCommand(run),
    deleteCommand(run),
    configCommand(run),
    opsCommand(run),
    auditCommand(run),
    gcCommand(run),
    replicaCommand(run),
    replicateCommand(run),
    statusCommand(run),
    failoverCommand(run),
    failbackCommand(run),
  ]) {
    program.addCommand(usageExits(command));
  }
  program.addCommand(usageExits(completionCommand()));
  return program;
}
