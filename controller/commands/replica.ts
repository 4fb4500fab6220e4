/**
 * `kvmctl replica …`: declare the replicas that `kvmctl replicate` keeps —
 * add, list, show, pause, resume, rm, apply, points and restore (one file per verb beside
 * this one; the logic is under controller/replication/).
 */
import { Command } from 'commander';
import { replicaAddCommand } from './replica-add.js';
import { replicaApplyCommand } from './replica-apply.js';
import { replicaListCommand } from './replica-list.js';
import { replicaPauseCommand } from './replica-pause.js';
import { replicaPointsCommand, replicaRestoreCommand } from './replica-points.js';
import { replicaRmCommand } from './replica-rm.js';
import { replicaShowCommand } from './replica-show.js';

/** The replica command group. */
export function replicaCommand(run: (code: Promise<number>) => void): Command {
  const replica = new Command('replica').description('replicas: VMs kept copied to another host on a schedule (kvmctl replicate runs them)');
  for (const sub of [
    replicaAddCommand(run),
    replicaListCommand(run),
    replicaShowCommand(run),
    replicaPauseCommand(run, true),
    replicaPauseCommand(run, false),
    replicaRmCommand(run),
    replicaApplyCommand(run),
    replicaPointsCommand(run),
    replicaRestoreCommand(run),
  ]) {
    replica.addCommand(sub);
  }
  return replica;
}
