/**
 * What clone and sync share as commands: both copy a VM's disks from one host
 * to another, so both take --live (with its options), --bwlimit and
 * --compress, and run with the transfer settings those flags change.
 */
import { Command } from 'commander';
import type { OperationDeps } from '../operations/operation-run.js';
import { addBwlimitOption, withBwlimit, type BwlimitFlags } from './bwlimit-flag.js';
import { operationDeps, type CommandContext } from './command-context.js';
import { addCompressOption, withCompress, type CompressFlags } from './compress-flag.js';
import { addLiveOptions, type LiveFlags } from './live-flags.js';

/** The flags clone and sync both have, as commander parses them. */
export interface CopyFlags extends LiveFlags, BwlimitFlags, CompressFlags {
  from: string;
  to: string;
  name?: string;
  dryRun?: boolean;
  flatten?: boolean;
}

/** A new copy verb called `name`, with the --live, --bwlimit and --compress options. */
export function copyVerb(name: string): Command {
  return addCompressOption(addBwlimitOption(addLiveOptions(new Command(name))));
}

/** What a copy needs from the command's context: its options with --bwlimit and --compress in force (INVALID_ARGUMENT for a bad rate). */
export function copyDeps(ctx: CommandContext, flags: BwlimitFlags & CompressFlags): OperationDeps {
  return operationDeps(ctx, withCompress(withBwlimit(ctx.options, flags), flags));
}
