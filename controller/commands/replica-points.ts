/**
 * `kvmctl replica points NAME` and `kvmctl replica restore NAME --point ID`:
 * the restore points a replica's syncs kept (`--keep N`) on its copy, and the
 * roll-back to one of them — `kvmctl points|restore` on the replica's
 * destination VM and host, named by the replica.
 */
import type { Command } from 'commander';
import { replicaVerb } from '../cli/verb-builders.js';
import { runInContext } from '../cli/command-context.js';
import { restoreVmPoint, showVmPoints } from '../operations/points/vm-point-actions.js';
import { ReplicaStore } from '../replication/replica-store.js';

/** The replica points command. */
export function replicaPointsCommand(run: (code: Promise<number>) => void): Command {
  return replicaVerb('points', "the restore points kept of a replica's copy, newest first, and the space they take").action((name: string, _flags: unknown, command: Command) =>
    runInContext(run, command, async (ctx) => {
      const replica = new ReplicaStore(ctx.store().database).get(name);
      return showVmPoints(ctx, replica.destVm, replica.to);
    }),
  );
}

/** The replica restore command. */
export function replicaRestoreCommand(run: (code: Promise<number>) => void): Command {
  return replicaVerb('restore', "roll a replica's (shut-off) copy back to one of its restore points; that point and every newer one are used up")
    .requiredOption('--point <id>', 'the point (its id as kvmctl replica points shows it, or a unique prefix of 4+ characters)')
    .action((name: string, flags: { point: string }, command: Command) => {
      runInContext(run, command, async (ctx, global) => {
        const replica = new ReplicaStore(ctx.store().database).get(name);
        return restoreVmPoint(ctx, replica.destVm, replica.to, flags.point, global.yes === true);
      });
    });
}
