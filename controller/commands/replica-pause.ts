/**
 * `kvmctl replica pause|resume NAME`: stops or restarts a replica's schedule
 * (`replicate` skips a paused replica, `status` does not count it against
 * the RPO). A run already going on is not stopped.
 */
import type { Command } from 'commander';
import { replicaVerb } from '../cli/verb-builders.js';
import { runInContext } from '../cli/command-context.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { ReplicaStore } from '../replication/replica-store.js';

/** The replica pause (`pause` true) or resume command. */
export function replicaPauseCommand(run: (code: Promise<number>) => void, pause: boolean): Command {
  const verb = pause ? 'pause' : 'resume';
  return replicaVerb(verb, pause ? "stop a replica's schedule (a run going on finishes)" : "restart a paused replica's schedule").action(
    (name: string, _flags: unknown, command: Command) =>
      runInContext(run, command, async (ctx) => {
        const replica = new ReplicaStore(ctx.store().database).setPaused(name, pause);
        if (ctx.json) ctx.reporter.result({ ok: true, operation: `replica-${verb}`, replica });
        else process.stdout.write(`replica ${name} ${pause ? 'paused' : 'resumed'}\n`);
        return EXIT_OK;
      }),
  );
}
