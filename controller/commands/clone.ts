/**
 * `kvmctl clone VM --from HOST --to HOST [--name NEW] [--target-dir DIR]
 * [--start] [--dry-run] [--flatten] [--live [--quiesce MODE] [--cbt on|off]]`:
 * copy a VM, all of it, to another host (or to the same host under a new
 * name); a running one from a point-in-time view with --live; each disk as
 * one standalone image with --flatten. See
 * operations/clone/run-clone.ts.
 */
import { Command } from 'commander';
import { checkAbsolutePath, checkVmName } from '../../shared/validation.js';
import { runInContext } from '../cli/command-context.js';
import { confirm } from '../cli/confirm.js';
import { copyDeps, copyVerb, type CopyFlags } from '../cli/copy-verb.js';
import { EXIT_USAGE } from '../cli/exit-codes.js';
import { runClone } from '../operations/clone/run-clone.js';
import { liveOptionsOf } from '../cli/live-flags.js';
import { parseHostSpec } from '../transport/host-spec.js';

interface CloneFlags extends CopyFlags {
  targetDir?: string;
  start?: boolean;
}

/** The clone command. */
export function cloneCommand(run: (code: Promise<number>) => void): Command {
  return copyVerb('clone', { vm: 'the VM to clone', to: 'host to clone it to' })
    .description('clone a VM to another host (or to the same host under a new name); a running one with --live')
    .option('--target-dir <dir>', "directory for the clone's disks on the destination (default: the source directories)")
    .option('--start', 'start the clone and check that it runs')
    .option('--dry-run', 'print the plan and stop')
    .option('--flatten', 'give the copy one standalone image per disk, its backing chain merged (holes stay holes)')
    .action((vm: string, flags: CloneFlags, command: Command) => {
      runInContext<CloneFlags>(run, command, async (ctx, global) => {
        const destVm = checkVmName(flags.name ?? vm, '--name');
        parseHostSpec(flags.from);
        parseHostSpec(flags.to);
        if (flags.from === flags.to && destVm === checkVmName(vm, 'VM')) {
          ctx.reporter.result({ ok: false, error: { code: 'INVALID_ARGUMENT', message: 'a clone on the same host needs a new name: add --name' } });
          return EXIT_USAGE;
        }
        return runClone(
          {
            vm: checkVmName(vm, 'VM'),
            from: flags.from,
            to: flags.to,
            destVm,
            ...(flags.targetDir !== undefined && { targetDir: checkAbsolutePath(flags.targetDir, '--target-dir') }),
            start: flags.start === true,
            dryRun: flags.dryRun === true,
            flatten: flags.flatten === true,
            live: liveOptionsOf(flags),
          },
          {
            ...copyDeps(ctx, global),
            confirm: (question) => confirm(question, { yes: global.yes === true, json: ctx.json, signal: ctx.signal, unattended: true }),
          },
        );
      });
    });
}
