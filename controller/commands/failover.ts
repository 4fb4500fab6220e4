/**
 * `kvmctl failover NAME [--point ID] [--force]` starts a replica's copy as
 * the VM in service (refused while the source VM runs: split brain);
 * `kvmctl failover NAME --test [--network]` starts a throw-away clone of the
 * copy for a DR drill and `--test --cleanup` removes it. The logic is in
 * controller/replication/failover.ts and failover-drill.ts.
 */
import type { Command } from 'commander';
import { replicaVerb } from '../cli/verb-builders.js';
import { operationDeps, runInContext, type CommandContext } from '../cli/command-context.js';
import { FailoverStore } from '../replication/failover-store.js';
import { runFailover, type RecoveryDeps } from '../replication/failover.js';
import { runDrill, runDrillCleanup } from '../replication/failover-drill.js';
import { ReplicaStore } from '../replication/replica-store.js';

/** The failover command's own flags. */
export interface FailoverFlags {
  point?: string;
  force?: boolean;
  test?: boolean;
  network?: boolean;
  cleanup?: boolean;
}

/** What failover, failback and the drill get from a command's context. */
export function recoveryDeps(ctx: CommandContext, yes: boolean): RecoveryDeps {
  const deps = operationDeps(ctx);
  return {
    ...deps,
    replicas: new ReplicaStore(deps.store.database),
    failovers: new FailoverStore(deps.store.database),
    yes,
    json: ctx.json,
  };
}

/** What is wrong with a flag combination that means nothing, or undefined. */
export function flagConflict(flags: FailoverFlags): string | undefined {
  if (flags.test) {
    if (flags.point !== undefined || flags.force) return '--test starts a clone of the copy as last synced: --point and --force do not apply';
    if (flags.cleanup && flags.network) return '--cleanup removes the test failover: --network does not apply';
  } else if (flags.cleanup || flags.network) {
    return '--cleanup and --network go with --test';
  }
  return undefined;
}

/** The failover command. */
export function failoverCommand(run: (code: Promise<number>) => void): Command {
  return replicaVerb('failover', "start a replica's copy as the VM in service (refused while the source VM runs); --test: a throw-away copy for a DR drill")
    .option('--point <id>', 'roll the copy back to this restore point first (it and newer points are used up)')
    .option('--force', 'go ahead when the source host cannot be reached (you confirm the VM is not running there)')
    .option('--test', 'start a throw-away clone <copy>-drill of the copy instead; the copy and the schedule are untouched')
    .option('--network', "with --test: leave the clone's network links up (default: down)")
    .option('--cleanup', 'with --test: stop and remove the test failover VM and its disks')
    .action((name: string, flags: FailoverFlags, command: Command) => {
      const conflict = flagConflict(flags);
      if (conflict !== undefined) command.error(`error: ${conflict}`, { exitCode: 2 });
      runInContext(run, command, async (ctx, global) => {
        const deps = recoveryDeps(ctx, global.yes === true);
        if (flags.test) return flags.cleanup ? runDrillCleanup({ replica: name }, deps) : runDrill({ replica: name, network: flags.network === true }, deps);
        return runFailover({ replica: name, force: flags.force === true, ...(flags.point !== undefined && { point: flags.point }) }, deps);
      });
    });
}
