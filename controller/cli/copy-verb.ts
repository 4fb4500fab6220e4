/**
 * What clone and sync share as commands: both copy a VM's disks from one host
 * to another, so both take --live (with its options), --bwlimit and
 * --compress, name the VM and its two hosts the same way, and run with the
 * transfer settings those flags change.
 */
import { Command } from 'commander';
import type { OperationDeps } from '../operations/operation-run.js';
import { addBwlimitOption, withBwlimit, type BwlimitFlags } from './bwlimit-flag.js';
import { operationDeps, type CommandContext } from './command-context.js';
import { addCompressOption, withCompress, type CompressFlags } from './compress-flag.js';
import { addLiveOptions, type LiveFlags } from './live-flags.js';
import { addFromTo } from './verb-builders.js';

/** The flags clone and sync both have, as commander parses them. */
export interface CopyFlags extends LiveFlags, BwlimitFlags, CompressFlags {
  from: string;
  to: string;
  name?: string;
  dryRun?: boolean;
  flatten?: boolean;
}

/** What a copy verb's `<vm>` and its destination (--to) are to it. */
export interface CopyVerbHelp {
  vm: string;
  to: string;
}

/**
 * A new copy verb called `name`: the --live, --bwlimit and --compress
 * options, then its `<vm>` argument, --from, --to and --name (the copy's
 * name, the same on both verbs).
 */
export function copyVerb(name: string, help: CopyVerbHelp): Command {
  const verb = addCompressOption(addBwlimitOption(addLiveOptions(new Command(name))));
  return addFromTo(verb.argument('<vm>', help.vm), help.to).option('--name <dest-vm>', 'name of the copy (default: the same name)');
}

/** What a copy needs from the command's context: its options with --bwlimit and --compress in force (INVALID_ARGUMENT for a bad rate). */
export function copyDeps(ctx: CommandContext, flags: BwlimitFlags & CompressFlags): OperationDeps {
  return operationDeps(ctx, withCompress(withBwlimit(ctx.options, flags), flags));
}
