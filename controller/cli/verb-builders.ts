/**
 * The kinds of kvmctl verb that many commands are: one that acts on a
 * replica named by its `<name>` argument (failover, failback, replica show,
 * rm, pause, points, restore), one that acts on one HOST given as its
 * `<host>` argument (ls, gc, audit), and one that acts on a VM or copy given
 * as `<vm> --on <host>` (delete, points, restore). Each kind's argument is
 * declared here once, so its name and help read the same on every verb; so
 * are --from and --to of the verbs that copy a VM between two hosts (clone,
 * sync, replica add).
 */
import { Command } from 'commander';

/** A new verb `name` whose argument is a replica's name. */
export function replicaVerb(name: string, description: string): Command {
  return new Command(name).description(description).argument('<name>', 'the replica');
}

/** A new verb `name` whose argument is a host as ssh would accept it. */
export function hostVerb(name: string, description: string): Command {
  return new Command(name).description(description).argument('<host>', 'an ssh config alias or [user@]host[:port]');
}

/** What a `<vm> --on <host>` verb acts on: a VM, or a copy kept by sync or replicate (the help says which). */
const ON_HOST_HELP = {
  vm: { argument: 'the VM on HOST', on: 'host the VM is on' },
  copy: { argument: 'the copy (the VM on HOST)', on: 'host the copy is on' },
} as const;

/** A new verb `name` whose argument is a VM (or a copy, by `what`) on the host given by the required --on. */
export function vmOnHostVerb(name: string, description: string, what: keyof typeof ON_HOST_HELP): Command {
  const help = ON_HOST_HELP[what];
  return new Command(name).description(description).argument('<vm>', help.argument).requiredOption('--on <host>', help.on);
}

/** Adds the required --from and --to of a verb that copies a VM between two hosts; `toHelp` says what the destination is to that verb. */
export function addFromTo(command: Command, toHelp: string): Command {
  return command.requiredOption('--from <host>', 'host the VM is on (an ssh config alias or [user@]host[:port])').requiredOption('--to <host>', toHelp);
}
