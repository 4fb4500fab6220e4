/**
 * `--live`, `--quiesce` and `--cbt`, shared by clone and sync: the options
 * and their translation into what the operations take.
 */
import { Option, type Command } from 'commander';
import { invalidArgument } from '../../shared/errors.js';
import type { LiveOptions } from '../operations/clone/preflight.js';

/** The flags as commander parses them. */
export interface LiveFlags {
  live?: boolean;
  quiesce?: LiveOptions['quiesce'];
  cbt?: 'on' | 'off';
}

/** Adds the three options to a command. */
export function addLiveOptions(command: Command): Command {
  return command
    .option('--live', 'copy a running VM from a point-in-time view (libvirt backup job); it keeps running')
    .addOption(
      new Option('--quiesce <mode>', 'with --live: freeze the guest filesystems around the point in time (try: if its guest agent answers; require: or fail; off)').choices([
        'try',
        'require',
        'off',
      ]),
    )
    .addOption(new Option('--cbt <on|off>', 'with --live: keep a checkpoint so the next live sync reads only changed blocks (default on)').choices(['on', 'off']));
}

/** The live options, or undefined without --live; INVALID_ARGUMENT for --quiesce or --cbt without --live. */
export function liveOptionsOf(flags: LiveFlags): LiveOptions | undefined {
  if (flags.live !== true) {
    if (flags.quiesce !== undefined || flags.cbt !== undefined) throw invalidArgument('--quiesce and --cbt go with --live');
    return undefined;
  }
  return { quiesce: flags.quiesce ?? 'try', cbt: flags.cbt !== 'off' };
}
