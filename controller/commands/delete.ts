/**
 * `kvmctl delete VM --on HOST [--storage] [--yes]`: removes a shut-off VM,
 * and with --storage the images only it uses (controller/operations/delete-vm.ts).
 */
import type { Command } from 'commander';
import { operationDeps, runInContext } from '../cli/command-context.js';
import { vmOnHostVerb } from '../cli/verb-builders.js';
import { checkVmName } from '../../shared/validation.js';
import { runDelete } from '../operations/delete-vm.js';

interface DeleteFlags {
  on: string;
  storage?: boolean;
}

/** The delete command. */
export function deleteCommand(run: (code: Promise<number>) => void): Command {
  return vmOnHostVerb('delete', 'remove a shut-off VM; with --storage also the images only it uses (never backing, read-only or shared files)', 'vm')
    .option('--storage', 'also remove its images, NVRAM and TPM state (what other domains use is never removed)')
    .action((vm: string, _flags: DeleteFlags, command: Command) => {
      runInContext<DeleteFlags>(run, command, (ctx, global) =>
        runDelete({ vm: checkVmName(vm, 'VM'), host: global.on, storage: global.storage === true, yes: global.yes === true, json: ctx.json }, operationDeps(ctx)),
      );
    });
}
