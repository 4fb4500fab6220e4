/**
 * `--bwlimit RATE` on clone and sync: the command line's rate replaces
 * kvmctl.yaml's `transfer.bwlimit` and `transfer.links` for this run.
 */
import type { Command } from 'commander';
import { invalidArgument } from '../../shared/errors.js';
import { parseRate } from '../../shared/config/rate.js';
import type { ControllerOptions } from '../config/controller-config.js';

/** The flag as commander parses it. */
export interface BwlimitFlags {
  bwlimit?: string;
}

/** Adds the option to a command. */
export function addBwlimitOption(command: Command): Command {
  return command.option('--bwlimit <rate>', 'most bytes per second the data leaves the source, e.g. 50M (MiB/s), 800K, 100MB; over kvmctl.yaml transfer.bwlimit');
}

/** The options with the flag's rate in force (unchanged without the flag); INVALID_ARGUMENT for a bad rate. */
export function withBwlimit(options: ControllerOptions, flags: BwlimitFlags): ControllerOptions {
  if (flags.bwlimit === undefined) return options;
  const parsed = parseRate(flags.bwlimit);
  if ('error' in parsed) throw invalidArgument(`--bwlimit: ${parsed.error}`);
  return { ...options, transfer: { ...options.transfer, bwlimit: parsed.rate, links: [] } };
}
