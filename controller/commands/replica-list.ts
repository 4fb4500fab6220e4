/** `kvmctl replica list`: every replica with its state, interval, last sync and next run. */
import { Command } from 'commander';
import { runInContext } from '../cli/command-context.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { ReplicaStore } from '../replication/replica-store.js';
import { currentStatuses } from '../replication/replica-status.js';
import { replicaTable } from '../replication/replica-text.js';

/** The replica list command. */
export function replicaListCommand(run: (code: Promise<number>) => void): Command {
  return new Command('list').description('the replicas, by name').action((_flags: unknown, command: Command) =>
    runInContext(run, command, async (ctx) => {
      const rows = currentStatuses(new ReplicaStore(ctx.store().database), ctx.options.replication.graceMs);
      if (ctx.json) ctx.reporter.result({ ok: true, operation: 'replica-list', replicas: rows.map(({ replica, status }) => ({ ...replica, status })) });
      else process.stdout.write(replicaTable(rows));
      return EXIT_OK;
    }),
  );
}
