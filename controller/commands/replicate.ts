/**
 * `kvmctl replicate [--due] [NAME…]`: runs replicas now — the named ones, or
 * all; with --due only those whose time has come (what the systemd timer
 * runs every minute). See replication/replicate.ts. Exit 0 when every run
 * that started succeeded (nothing due is success), 1 otherwise, 130 when
 * interrupted.
 */
import { Command } from 'commander';
import { operationDeps, runInContext } from '../cli/command-context.js';
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK } from '../cli/exit-codes.js';
import { formatBytes } from '../cli/reporter.js';
import { Notifier } from '../replication/notifier.js';
import { replicate } from '../replication/replicate.js';
import { ReplicaStore } from '../replication/replica-store.js';
import { route } from '../replication/replica-text.js';

/** The replicate command. */
export function replicateCommand(run: (code: Promise<number>) => void): Command {
  return new Command('replicate')
    .description('run replicas: the first run of one clones, later runs sync; --due runs only those whose time has come')
    .argument('[names...]', 'replicas to run (default: all that are not paused)')
    .option('--due', 'only replicas whose interval (or backoff after a failure) has passed')
    .action((names: string[], flags: { due?: boolean }, command: Command) => {
      runInContext(run, command, async (ctx, global) => {
        const notifier = new Notifier(ctx.options.notify, (m) => ctx.reporter.warn(m));
        const replicas = new ReplicaStore(ctx.store().database);
        const outcome = await replicate(
          { due: flags.due === true, names },
          {
            ...operationDeps(ctx),
            replicas,
            yes: global.yes === true,
            notifier,
            onRunStart: (r) => ctx.reporter.info(`${r.name}: ${r.seededAt === null ? 'clone' : 'sync'} ${route(r)}`),
            onRunEnd: (report) => {
              if (ctx.json) return;
              process.stdout.write(
                report.outcome === 'succeeded'
                  ? `${report.replica}: ${report.kind} done in ${report.seconds} s, ${formatBytes(report.bytesOnWire)} on the wire (${report.delta ?? '-'}; operation ${report.operationId ?? '-'})\n`
                  : `${report.replica}: ${report.kind} ${report.outcome}: ${report.errorMessage ?? ''}${report.nextAttemptAt ? ` (failure ${report.consecutiveFailures}; next attempt ${report.nextAttemptAt})` : ''}\n`,
              );
            },
          },
        );
        await notifier.settle();
        const ok = outcome.runs.every((r) => r.outcome === 'succeeded');
        if (ctx.json) ctx.reporter.result({ ok, operation: 'replicate', runs: outcome.runs, skipped: outcome.skipped });
        else {
          for (const s of outcome.skipped) if (s.reason !== 'not-due' || names.length > 0) process.stdout.write(`${s.replica}: skipped, ${s.detail}\n`);
          if (outcome.runs.length === 0) process.stdout.write(flags.due === true ? 'nothing due\n' : 'nothing ran\n');
          else process.stdout.write(`${outcome.runs.filter((r) => r.outcome === 'succeeded').length} of ${outcome.runs.length} run(s) succeeded\n`);
        }
        if (ctx.signal.aborted) return EXIT_INTERRUPTED;
        return ok ? EXIT_OK : EXIT_FAILED;
      });
    });
}
