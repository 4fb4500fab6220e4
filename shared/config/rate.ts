/**
 * A transfer rate as users write it for `--bwlimit` and `transfer.bwlimit`:
 * "50M" is 50 MiB/s. K, M and G count in 1024s, as rsync's --bwlimit does;
 * KB, MB and GB in 1000s; KiB, MiB and GiB are accepted too; a trailing "/s"
 * is allowed. A bare number is refused: rsync reads it as KiB/s and others
 * as bytes, so the unit is asked for instead of guessed.
 */

const RATE_UNITS: Readonly<Record<string, number>> = {
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
};

/** The lowest rate accepted (the agent refuses less): 64 KiB/s. */
export const MIN_RATE = 64 * 1024;

/** Bytes per second of `text`, or a message saying what is wrong with it. */
export function parseRate(text: string): { rate: number } | { error: string } {
  const m = /^(\d+(?:\.\d+)?)\s*(K|M|G|KiB|MiB|GiB|KB|MB|GB)(?:\/s)?$/.exec(text.trim());
  const unit = m?.[2];
  if (m === null || unit === undefined) return { error: `${JSON.stringify(text)} is not a rate (e.g. 50M for 50 MiB/s, 800K, 1G, 100MB)` };
  const rate = Math.floor(Number(m[1]) * (RATE_UNITS[unit] ?? Number.NaN));
  if (!Number.isSafeInteger(rate) || rate < MIN_RATE) return { error: `${JSON.stringify(text)} is below the lowest rate, 64K` };
  return { rate };
}
