/**
 * `kvmctl failback NAME [--switch] [--shutdown-timeout S]`: brings the
 * original VM up to date from the failed-over copy by changed blocks only;
 * with --switch the copy is stopped, a final sync made, the original started
 * and the replica runs forward again. See controller/replication/failback.ts.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { replicaVerb } from '../cli/verb-builders.js';
import { runInContext } from '../cli/command-context.js';
import { runFailback } from '../replication/failback.js';
import { recoveryDeps } from './failover.js';

/** --shutdown-timeout: 1 to 3600 seconds. */
function parseSeconds(value: string): number {
  if (!/^[0-9]{1,4}$/.test(value) || Number(value) < 1 || Number(value) > 3600) throw new InvalidArgumentError('--shutdown-timeout takes seconds from 1 to 3600');
  return Number(value);
}

/** The failback command. */
export function failbackCommand(run: (code: Promise<number>) => void): Command {
  return replicaVerb('failback', 'bring the original VM up to date from its failed-over copy (changed blocks only); --switch hands the roles back')
    .option('--switch', 'then stop the copy, sync what it wrote meanwhile, start the original, and run the replica forward again')
    .option('--shutdown-timeout <seconds>', 'with --switch: how long the running copy gets to power off (default 300)', parseSeconds)
    .action((name: string, flags: { switch?: boolean; shutdownTimeout?: number }, command: Command) => {
      runInContext(run, command, async (ctx, global) =>
        runFailback({ replica: name, switchBack: flags.switch === true, shutdownSeconds: flags.shutdownTimeout ?? 300 }, recoveryDeps(ctx, global.yes === true)),
      );
    });
}
