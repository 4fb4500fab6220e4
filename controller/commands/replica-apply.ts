/**
 * `kvmctl replica apply FILE.yaml [--prune] [--dry-run]`: makes the replicas
 * match a file (replication/replica-file.ts): adds, changes and, with
 * --prune, removes (copies are kept); --dry-run prints the difference and
 * changes nothing. A change that cannot be made in place refuses the whole
 * apply (exit 3) before anything changes.
 */
import { Command } from 'commander';
import { ConfigError } from '../../shared/config/config-file.js';
import { invalidArgument } from '../../shared/errors.js';
import { runInContext } from '../cli/command-context.js';
import { EXIT_OK, EXIT_REFUSED } from '../cli/exit-codes.js';
import { applyPlan, planApply, planText, readReplicaFile } from '../replication/replica-file.js';
import { ReplicaStore } from '../replication/replica-store.js';

/** The replica apply command. */
export function replicaApplyCommand(run: (code: Promise<number>) => void): Command {
  return new Command('apply')
    .description('make the replicas match FILE.yaml (adds and changes; with --prune also removes)')
    .argument('<file>', 'YAML file with a `replicas:` list')
    .option('--prune', 'remove replicas that are not in the file (their copies are kept)')
    .option('--dry-run', 'print what would change, change nothing')
    .action((file: string, flags: { prune?: boolean; dryRun?: boolean }, command: Command) =>
      runInContext(run, command, async (ctx) => {
        let desired;
        try {
          desired = await readReplicaFile(file);
        } catch (err) {
          // A bad file is a usage error (exit 2), every problem named, as for kvmctl.yaml.
          if (err instanceof ConfigError) throw invalidArgument(err.message);
          throw err;
        }
        const store = new ReplicaStore(ctx.store().database);
        const plan = planApply(store.list(), desired, flags.prune === true);
        const dryRun = flags.dryRun === true;
        if (!ctx.json) process.stdout.write(planText(plan, desired));
        if (plan.refused.length > 0) {
          ctx.reporter.result({
            ok: false,
            operation: 'replica-apply',
            dryRun,
            plan,
            error: { code: 'FAILED_PRECONDITION', message: `${plan.refused.length} replica(s) cannot be changed in place; nothing was changed` },
          });
          return EXIT_REFUSED;
        }
        if (!dryRun) applyPlan(store, desired, plan);
        if (ctx.json) ctx.reporter.result({ ok: true, operation: 'replica-apply', dryRun, plan });
        else if (dryRun) process.stdout.write('dry run: nothing was changed\n');
        return EXIT_OK;
      }),
    );
}
