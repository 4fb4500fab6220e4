/**
 * `kvmctl hosts check HOST...`: reach each agent over SSH and report its
 * version, capabilities, host facts, free space, the SSH account in use and
 * the leftovers of earlier operations (operations/host-report.ts) — the first
 * thing to run against a new host. Exit 0 only when every host answered.
 * `kvmctl hosts setup` (hosts-setup.ts) is the other verb of the group.
 */
import { Command } from 'commander';
import { runInContext } from '../cli/command-context.js';
import { checkHosts } from '../operations/host-report.js';
import { hostsSetupCommand } from './hosts-setup.js';

/** The hosts command group (check, setup). */
export function hostsCommand(run: (code: Promise<number>) => void): Command {
  const hosts = new Command('hosts').description('check hosts and their agents, install kvmclone on them');
  hosts
    .command('check')
    .description('reach each agent: version, capabilities, free space')
    .argument('<host...>', 'ssh config aliases or [user@]host[:port]')
    .action((list: string[], _flags: unknown, command: Command) => {
      runInContext(run, command, async (ctx) => (await checkHosts(ctx, list)).code);
    });
  hosts.addCommand(hostsSetupCommand(run));
  return hosts;
}
