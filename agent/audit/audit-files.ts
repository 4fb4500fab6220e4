/**
 * The audit trail's files on disk: the live file (e.g. audit.log) and the
 * rotated ones beside it, each renamed once to `audit.log.<UTC time of the
 * rotation>` and never renamed again — a name, once given, keeps pointing at
 * the same records, which is what shipping tools and operators copying files
 * away rely on. Names sort by time, oldest first.
 */
import { lstat, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The suffix of a rotated file: compact ISO time, e.g. "20261202T091500.123Z", with "-N" on a collision. */
const ROTATED_SUFFIX = /^\d{8}T\d{6}\.\d{3}Z(?:-\d+)?$/;

/** The compact UTC stamp of `at` used in rotated names. */
export function rotationStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '');
}

/** A name for the next rotated file that does not exist yet. */
export async function freeRotatedName(file: string, at: Date): Promise<string> {
  const base = `${file}.${rotationStamp(at)}`;
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? base : `${base}-${n}`;
    try {
      await lstat(candidate);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return candidate;
      throw err;
    }
  }
}

/** The rotated files of `file`, oldest first (by the time in their names). */
export async function rotatedFiles(file: string): Promise<string[]> {
  const prefix = `${basename(file)}.`;
  const names = await readdir(dirname(file)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return names
    .filter((n) => n.startsWith(prefix) && ROTATED_SUFFIX.test(n.slice(prefix.length)))
    .sort(byStamp(prefix))
    .map((n) => join(dirname(file), n));
}

/** Orders "…Z" before "…Z-1" before "…Z-10" (plain string order would put -10 before -2). */
function byStamp(prefix: string): (a: string, b: string) => number {
  const key = (n: string): [string, number] => {
    const [stamp = '', seq] = n.slice(prefix.length).split('-');
    return [stamp, seq === undefined ? 0 : Number(seq)];
  };
  return (a, b) => {
    const [sa, na] = key(a);
    const [sb, nb] = key(b);
    return sa < sb ? -1 : sa > sb ? 1 : na - nb;
  };
}

/** The time a rotated file was rotated (its records all ended at or before it), from its name. */
export function rotatedAt(path: string): Date | undefined {
  const m = /\.(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z(?:-\d+)?$/.exec(path);
  if (m === null) return undefined;
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
}
