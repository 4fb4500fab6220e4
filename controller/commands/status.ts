/**
 * `kvmctl status [--json] [--prometheus FILE]`: how far behind each replica
 * is, for people and for monitoring. Exit 0 when every replica whose
 * schedule runs is within its RPO (its interval plus `replication.grace`),
 * 1 otherwise. --prometheus also writes the figures for node_exporter's
 * textfile collector. An RPO breach noticed here is notified (once).
 */
import { Command } from 'commander';
import { runInContext } from '../cli/command-context.js';
import { EXIT_FAILED, EXIT_OK } from '../cli/exit-codes.js';
import { Notifier } from '../replication/notifier.js';
import { prometheusText, writeAtomically } from '../replication/prometheus-text.js';
import { checkAlerts } from '../replication/replica-alerts.js';
import { ReplicaStore } from '../replication/replica-store.js';
import { allWithinRpo, currentStatuses } from '../replication/replica-status.js';
import { statusTable } from '../replication/replica-text.js';
import { resolve } from 'node:path';

/** The status command. */
export function statusCommand(run: (code: Promise<number>) => void): Command {
  return new Command('status')
    .description('replicas: state, lag against the RPO, last sync, next run, failures; exit 1 when one is past its RPO')
    .option('--prometheus <file>', 'also write the figures in the node_exporter textfile format (replaced atomically)')
    .action((flags: { prometheus?: string }, command: Command) =>
      runInContext(run, command, async (ctx) => {
        const file = flags.prometheus === undefined ? undefined : resolve(flags.prometheus);
        const store = new ReplicaStore(ctx.store().database);
        const now = Date.now();
        const notifier = new Notifier(ctx.options.notify, (m) => ctx.reporter.warn(m));
        for (const r of store.list()) checkAlerts(store, r.name, notifier, ctx.options.replication.graceMs, now);
        const statuses = currentStatuses(store, ctx.options.replication.graceMs, now).map((s) => s.status);
        if (file !== undefined) await writeAtomically(file, prometheusText(statuses));
        await notifier.settle();
        const ok = allWithinRpo(statuses);
        if (ctx.json) ctx.reporter.result({ ok, operation: 'status', replicas: statuses });
        else process.stdout.write(statusTable(statuses));
        return ok ? EXIT_OK : EXIT_FAILED;
      }),
    );
}
