/**
 * `kvmctl replica rm NAME [--delete-copy]`: forgets a replica and its run
 * history (its operations stay in `kvmctl ops`). The copy on the destination
 * is kept unless --delete-copy (replication/delete-copy.ts). A replica that a
 * replicate run is running is refused.
 */
import type { Command } from 'commander';
import { replicaVerb } from '../cli/verb-builders.js';
import { failedPrecondition } from '../../shared/errors.js';
import { runInContext } from '../cli/command-context.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { deleteCopy, type DeletedCopy } from '../replication/delete-copy.js';
import { ReplicaStore } from '../replication/replica-store.js';

/** The replica rm command. */
export function replicaRmCommand(run: (code: Promise<number>) => void): Command {
  return replicaVerb('rm', 'remove a replica (the copy stays unless --delete-copy)')
    .option('--delete-copy', 'also undefine the copy on the destination and remove its disks (refused while it runs)')
    .action((name: string, flags: { deleteCopy?: boolean }, command: Command) =>
      runInContext(run, command, async (ctx) => {
        const store = new ReplicaStore(ctx.store().database);
        const replica = store.get(name);
        const busy = store.busyWith(name);
        if (busy) throw failedPrecondition(`replica ${name} is being run by kvmctl pid ${busy.pid} (since ${busy.at}): remove it when that run is over`);
        let deleted: DeletedCopy | undefined;
        if (flags.deleteCopy === true) deleted = await deleteCopy(replica, { engine: ctx.engine, options: ctx.options, reporter: ctx.reporter, signal: ctx.signal });
        store.remove(name);
        if (ctx.json) {
          ctx.reporter.result({ ok: true, operation: 'replica-rm', replica: name, ...(deleted && { copy: { host: replica.to, vm: replica.destVm, ...deleted } }) });
        } else {
          const copy =
            deleted === undefined
              ? `; its copy ${replica.destVm} on ${replica.to} is kept`
              : deleted.existed
                ? `; deleted its copy ${replica.destVm} on ${replica.to} (${deleted.removedPaths.length ? deleted.removedPaths.join(', ') : 'no file removed'})`
                : `; its copy ${replica.destVm} on ${replica.to} was already gone`;
          process.stdout.write(`removed replica ${name}${copy}\n`);
        }
        return EXIT_OK;
      }),
    );
}
