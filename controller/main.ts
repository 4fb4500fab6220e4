#!/usr/bin/env node
/**
 * kvmctl: the controller CLI (CONTRACT.md). Only parses the command line and
 * hands each verb to its file in commands/; exits with the verb's code.
 */
import { Command, Option } from 'commander';
import { KVMCLONE_VERSION } from '../shared/version.js';
import { auditCommand } from './commands/audit.js';
import { cloneCommand } from './commands/clone.js';
import { failbackCommand } from './commands/failback.js';
import { failoverCommand } from './commands/failover.js';
import { gcCommand } from './commands/gc.js';
import { hostsCommand } from './commands/hosts-check.js';
import { lsCommand } from './commands/ls.js';
import { opsCommand } from './commands/ops.js';
import { pointsCommand, restoreCommand } from './commands/points.js';
import { deleteCommand } from './commands/delete.js';
import { configCommand } from './commands/config.js';
import { syncCommand } from './commands/sync.js';
import { replicaCommand } from './commands/replica.js';
import { replicateCommand } from './commands/replicate.js';
import { statusCommand } from './commands/status.js';
import { EXIT_USAGE } from './cli/exit-codes.js';

// A reader that goes away (`kvmctl ops list | head -5`) ends the output quietly, as it does for git and ls:
// what is left to print is dropped, and the command finishes with its own exit code — an operation under
// way is not abandoned half-made because its log reader closed.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    stream.write = (() => true) as typeof stream.write;
  });
}

const run = (code: Promise<number>): void => {
  code.then(
    (c) => process.exit(c),
    (err: unknown) => {
      process.stderr.write(`kvmctl: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
};

const program = new Command('kvmctl')
  .description('clone KVM VMs between hosts over SSH and keep clones in sync')
  .version(KVMCLONE_VERSION)
  .option('--config <file>', 'config file (default $XDG_CONFIG_HOME/kvmclone/kvmctl.yaml; absent = defaults)')
  .option('--ssh-config <file>', 'ssh config file (default ~/.ssh/config)')
  .option('--known-hosts <file>', "known_hosts file (default: what the ssh config says, else ~/.ssh/known_hosts)")
  .option('--identity <file>', "identity file, in addition to ssh-agent and the ssh config's IdentityFile")
  .option('--agent-socket <path>', "the agent's admin socket on the remote hosts (default /run/kvmclone/agent.sock)")
  .option('--agent-ro-socket <path>', "the agent's read-only socket, for ls, hosts check and --dry-run (default /run/kvmclone/agent-ro.sock; an agent without one is reached on --agent-socket)")
  .addOption(new Option('--engine <engine>', 'SSH engine (default auto: OpenSSH when installed, else ssh2)').choices(['auto', 'openssh', 'ssh2']))
  .option('--json', 'NDJSON events on stdout; the last line is the result object')
  .option('--yes', 'never prompt')
  .option('--verbose', 'debug lines, and the underlying error (SSH, gRPC) under a failure; as KVMCTL_DEBUG=1')
  .exitOverride()
  .showHelpAfterError();

/** Usage errors anywhere in the tree exit 2 (CONTRACT.md), not commander's default 1. */
function usageExits(command: Command): Command {
  command.exitOverride().showHelpAfterError();
  command.commands.forEach(usageExits);
  return command;
}

for (const command of [hostsCommand(run), lsCommand(run), cloneCommand(run), syncCommand(run), pointsCommand(run), restoreCommand(run), deleteCommand(run), configCommand(run), opsCommand(run), auditCommand(run), gcCommand(run), replicaCommand(run), replicateCommand(run), statusCommand(run), failoverCommand(run), failbackCommand(run)]) {
  program.addCommand(usageExits(command));
}

try {
  await program.parseAsync();
} catch (err) {
  const code = (err as { exitCode?: number }).exitCode;
  process.exit(code === 0 ? 0 : EXIT_USAGE);
}
