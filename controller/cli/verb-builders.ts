/**
 * The two kinds of kvmctl verb that many commands are: one that acts on a
 * replica named by its `<name>` argument (failover, failback, replica show,
 * rm, pause, points, restore), and one that acts on one HOST given as its
 * `<host>` argument (ls, gc, audit). Each kind's argument is declared here
 * once, so its name and help read the same on every verb.
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
