/**
 * `kvmctl replica add NAME --vm VM --from HOST --to HOST [--dest-name NAME]
 * [--target-dir DIR] --every 15m [--keep N] [--live]`: declares a replica.
 * Nothing is copied yet: the first `kvmctl replicate` clones it.
 */
import { Command } from 'commander';
import { runInContext } from '../cli/command-context.js';
import { addFromTo } from '../cli/verb-builders.js';
import { KvmcloneError } from '../../shared/errors.js';
import { EXIT_OK, EXIT_REFUSED } from '../cli/exit-codes.js';
import { ReplicaStore } from '../replication/replica-store.js';
import { replicaSpec } from '../replication/replica-spec.js';
import { route } from '../replication/replica-text.js';
import { formatSeconds } from '../replication/schedule.js';

interface AddFlags {
  vm: string;
  from: string;
  to: string;
  destName?: string;
  targetDir?: string;
  every: string;
  keep?: string;
  live?: boolean;
}

/** The replica add command. */
export function replicaAddCommand(run: (code: Promise<number>) => void): Command {
  const verb = new Command('add')
    .description('declare a replica; the first kvmctl replicate clones the VM, later ones sync it')
    .argument('<name>', 'name of the replica (letters, digits, . _ + -)')
    .requiredOption('--vm <vm>', 'the VM to replicate');
  return addFromTo(verb, 'host that keeps the copy')
    .option('--dest-name <name>', "name of the copy (default: the VM's name)")
    .option('--target-dir <dir>', "directory for the copy's disks on the destination (default: the source's directories)")
    .requiredOption('--every <interval>', 'how often to sync, which is also the RPO: 10s … 7d (e.g. 15m, 1h)')
    .option('--keep <n>', 'restore points to keep of the copy: each sync keeps one (offline replicas only; kvmctl replica points NAME)')
    .option('--live', 'sync a running source from a point-in-time view (otherwise a running source fails the run)')
    .action((name: string, flags: AddFlags, command: Command) =>
      runInContext(run, command, async (ctx) => {
        const spec = replicaSpec({
          name,
          vm: flags.vm,
          from: flags.from,
          to: flags.to,
          destName: flags.destName,
          targetDir: flags.targetDir,
          every: flags.every,
          keep: flags.keep,
          live: flags.live,
        });
        let replica;
        try {
          replica = new ReplicaStore(ctx.store().database).add(spec);
        } catch (err) {
          // A taken name is a refusal (exit 3), as for clone.
          if (!(err instanceof KvmcloneError && err.code === 'ALREADY_EXISTS')) throw err;
          ctx.reporter.result({ ok: false, operation: 'replica-add', error: { code: err.code, message: err.message } });
          return EXIT_REFUSED;
        }
        if (ctx.json) ctx.reporter.result({ ok: true, operation: 'replica-add', replica });
        else process.stdout.write(`added replica ${replica.name}: ${route(replica)} every ${formatSeconds(replica.everySeconds)}; the next kvmctl replicate clones it\n`);
        return EXIT_OK;
      }),
    );
}
