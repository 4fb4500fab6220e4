/**
 * `kvmctl points VM --on HOST` lists the restore points `kvmctl sync --keep`
 * kept of a copy; `kvmctl restore VM --on HOST --point ID` rolls the
 * (shut-off) copy back to one of them. The restore consumes the point and
 * every newer one (like `zfs rollback -r`); each disk's result is checked
 * by the agent against the digest recorded with its point. The replica verbs
 * (`kvmctl replica points|restore`) are these on a replica's destination.
 */
import type { Command } from 'commander';
import { runInContext } from '../cli/command-context.js';
import { vmOnHostVerb } from '../cli/verb-builders.js';
import { restoreVmPoint, showVmPoints } from '../operations/points/vm-point-actions.js';

interface OnFlags {
  on: string;
}

interface RestoreFlags extends OnFlags {
  point: string;
}

/** The points command. */
export function pointsCommand(run: (code: Promise<number>) => void): Command {
  return vmOnHostVerb('points', 'list the restore points kept of a copy (kvmctl sync --keep), newest first, and the space they take', 'copy').action(
    (vm: string, flags: OnFlags, command: Command) => {
      runInContext(run, command, (ctx) => showVmPoints(ctx, vm, flags.on));
    },
  );
}

/** The restore command. */
export function restoreCommand(run: (code: Promise<number>) => void): Command {
  return vmOnHostVerb('restore', 'roll a shut-off copy back to one of its restore points; that point and every newer one are used up', 'copy')
    .requiredOption('--point <id>', 'the point (its id as kvmctl points shows it, or a unique prefix of 4+ characters)')
    .action((vm: string, flags: RestoreFlags, command: Command) => {
      runInContext<RestoreFlags>(run, command, (ctx, global) => restoreVmPoint(ctx, vm, flags.on, flags.point, global.yes === true));
    });
}
