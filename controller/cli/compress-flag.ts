/**
 * `--compress off|zstd|auto` on clone and sync: whether data chunks may
 * travel zstd-compressed between the agents (agent/transfer/chunk-compression.ts);
 * the command line's choice replaces kvmctl.yaml's `transfer.compress`.
 */
import { Option, type Command } from 'commander';
import type { ControllerOptions } from '../config/controller-config.js';

/** The modes, as the flag and the config file spell them. */
export const COMPRESS_MODES = ['off', 'zstd', 'auto'] as const;
export type CompressMode = (typeof COMPRESS_MODES)[number];

/** The flag as commander parses it. */
export interface CompressFlags {
  compress?: CompressMode;
}

/** Adds the option to a command. */
export function addCompressOption(command: Command): Command {
  return command.addOption(
    new Option(
      '--compress <mode>',
      'data chunks travel zstd-compressed: zstd (every chunk that shrinks), auto (where a sample shrinks), off; over kvmctl.yaml transfer.compress',
    ).choices([...COMPRESS_MODES]),
  );
}

/** The options with the flag's mode in force (unchanged without the flag). */
export function withCompress(options: ControllerOptions, flags: CompressFlags): ControllerOptions {
  return flags.compress === undefined ? options : { ...options, transfer: { ...options.transfer, compress: flags.compress } };
}

/** PullImage's compress field for a mode. */
export function compressField(mode: CompressMode): 'COMPRESS_OFF' | 'COMPRESS_ZSTD' | 'COMPRESS_AUTO' {
  return mode === 'zstd' ? 'COMPRESS_ZSTD' : mode === 'auto' ? 'COMPRESS_AUTO' : 'COMPRESS_OFF';
}
