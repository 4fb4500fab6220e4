/**
 * `kvmctl sync VM --from HOST --to HOST [--name DEST_VM] [--dry-run] [--keep N]`:
 * bring an existing copy up to date with its shut-off source, moving only
 * changed blocks; with --keep the destination keeps restore points of the
 * copy (kvmctl points / kvmctl restore). See operations/sync/run-sync.ts.
 */
import { Command, InvalidArgumentError } from 'commander';
import { checkVmName } from '../../shared/validation.js';
import { runInContext } from '../cli/command-context.js';
import { confirm } from '../cli/confirm.js';
import { copyDeps, copyVerb, type CopyFlags } from '../cli/copy-verb.js';
import { runSync } from '../operations/sync/run-sync.js';
import { liveOptionsOf } from '../cli/live-flags.js';
import { parseHostSpec } from '../transport/host-spec.js';

interface SyncFlags extends CopyFlags {
  keep?: number;
}

/** --keep N: 0 to 64 restore points (the agent's limit). */
function parseKeep(value: string): number {
  if (!/^[0-9]{1,2}$/.test(value) || Number(value) > 64) throw new InvalidArgumentError('--keep takes a number of restore points from 0 to 64');
  return Number(value);
}

/** The sync command. */
export function syncCommand(run: (code: Promise<number>) => void): Command {
  return copyVerb('sync', { vm: 'the source VM', to: 'host the copy is on' })
    .description('bring a copy up to date with its source, moving only changed blocks; a running source with --live')
    .option('--dry-run', 'report how many blocks and bytes differ, change nothing')
    .option('--flatten', 'read the shut-off source as its guest sees it, backing chains merged (for a copy made with clone --flatten)')
    .option(
      '--keep <n>',
      "keep a restore point of the copy as it was before this sync, and the newest N (0-64; offline syncs); without it the copy's points are dropped",
      parseKeep,
    )
    .action((vm: string, flags: SyncFlags, command: Command) => {
      runInContext<SyncFlags>(run, command, async (ctx, global) => {
        parseHostSpec(flags.from);
        parseHostSpec(flags.to);
        return runSync(
          {
            vm: checkVmName(vm, 'VM'),
            from: flags.from,
            to: flags.to,
            destVm: checkVmName(flags.name ?? vm, '--name'),
            dryRun: flags.dryRun === true,
            live: liveOptionsOf(flags),
            flatten: flags.flatten === true,
            ...(flags.keep !== undefined && { keep: flags.keep }),
          },
          {
            ...copyDeps(ctx, global),
            confirmDiskChanges: (question) => confirm(question, { yes: global.yes === true, json: ctx.json, signal: ctx.signal, unattended: false }),
          },
        );
      });
    });
}
