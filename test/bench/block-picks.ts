/**
 * Which blocks the live benchmark writes before each sync: 1 % of a disk's
 * 64 KiB blocks, scattered uniformly and seeded (the same seed, the same
 * blocks). Drawn with the fault matrix's 32-bit generator: the linear
 * congruential one it replaces multiplied past 2^53 in a JS number, lost its
 * low bits, and put most picks on 4 MiB boundaries.
 */
import { Rng } from './faults/prng.js';

/** The block size the picks are made in. */
export const BLOCK = 65536;

/** The byte offsets, ascending, of 1 % of the 64 KiB blocks of a `sizeGiB` GiB disk, drawn from `seed`. */
export function pickBlocks(seed: number, sizeGiB: number): number[] {
  const blocks = Math.floor((sizeGiB * 2 ** 30) / BLOCK);
  const rng = new Rng(seed);
  const chosen = new Set<number>();
  while (chosen.size < Math.floor(blocks / 100)) chosen.add(rng.int(0, blocks - 1));
  return [...chosen].sort((a, b) => a - b).map((b) => b * BLOCK);
}
