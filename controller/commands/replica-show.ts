/** `kvmctl replica show NAME`: one replica, its status and its recent runs (each with its operation id for `kvmctl ops show`). */
import type { Command } from 'commander';
import { replicaVerb } from '../cli/verb-builders.js';
import { runInContext } from '../cli/command-context.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { ReplicaStore } from '../replication/replica-store.js';
import { replicaStatus } from '../replication/replica-status.js';
import { replicaDetail } from '../replication/replica-text.js';

/** The replica show command. */
export function replicaShowCommand(run: (code: Promise<number>) => void): Command {
  return replicaVerb('show', 'one replica: settings, status and recent runs').action((name: string, _flags: unknown, command: Command) =>
    runInContext(run, command, async (ctx) => {
      const store = new ReplicaStore(ctx.store().database);
      const replica = store.get(name);
      const status = replicaStatus(replica, store.lastSuccess(name), Date.now(), ctx.options.replication.graceMs);
      const runs = store.runs(name, 20);
      if (ctx.json) ctx.reporter.result({ ok: true, operation: 'replica-show', replica, status, runs });
      else process.stdout.write(replicaDetail(replica, status, runs));
      return EXIT_OK;
    }),
  );
}
