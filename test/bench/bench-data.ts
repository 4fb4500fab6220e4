/**
 * What the honest benchmarks share (issue 13): their command-line values,
 * the two data sets — unique random data, and a real ext4 filesystem image
 * — the baselines' cipher, and median and range over rounds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_WRITER, run, sh, timed } from './bench-support.js';

/** The cipher kvmctl prefers, given to every SSH baseline too. */
export const BENCH_CIPHER = 'aes128-gcm@openssh.com';

/** What the ext4 data set is made of: this machine's programs, their data, headers and package lists. */
export const EXT4_SOURCES = ['/usr/share', '/usr/bin', '/usr/include', '/var/lib/dpkg'];

/** The data sets: unique random data, or a real filesystem image. */
export type DataSet = 'unique' | 'ext4';

/**
 * Makes a `sizeGiB` GiB sparse raw disk at `path`: `unique` half filled with
 * unique random data in 64 MiB runs (IMAGE_WRITER), `ext4` a filesystem made
 * with `mkfs.ext4 -d` from a copy of EXT4_SOURCES.
 */
export async function makeDataSet(dataSet: DataSet, path: string, sizeGiB: number): Promise<void> {
  if (dataSet === 'unique') return void (await run('python3', ['-c', IMAGE_WRITER, path, String(sizeGiB)]));
  const tree = await mkdtemp(join(tmpdir(), 'kvmclone-bench-tree-'));
  try {
    for (const s of EXT4_SOURCES) await sh(`mkdir -p ${tree}${s} && cp -a ${s}/. ${tree}${s}/`);
    await rm(path, { force: true });
    await run('mkfs.ext4', ['-q', '-F', '-d', tree, path, `${sizeGiB}G`]);
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}

/** Seconds `fn` took. */
export async function seconds(fn: () => Promise<unknown>): Promise<number> {
  return (await timed(fn)).seconds;
}

/** Median of the rounds' figures. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** "min–max" of the rounds' figures. */
export function spread(xs: readonly number[], digits = 1): string {
  return `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
}

/** A ratio over the rounds as the tables print it: "median x (min–max)". */
export function ratioFigure(per: readonly number[]): string {
  return `${median(per).toFixed(2)}x (${spread(per, 2)})`;
}

/** Each round's bytes on the wire against the bytes it changed (rounds without a wire figure left out). */
export function wireRatios(rounds: readonly { bytesOnWire?: number | undefined; changedBytes: number }[]): number[] {
  return rounds.flatMap((r) => (r.bytesOnWire === undefined ? [] : [r.bytesOnWire / r.changedBytes]));
}
