/**
 * Which files some process holds a flock on, read from /proc/locks without
 * taking any lock ourselves. A staging file or journal is flocked for as long
 * as a writer (a WriteRanges, a PullImage, a commit, start-up recovery — of
 * this agent or of any other process) has it open, so "locked" means "in use"
 * even where no operation id says so. Probing with a lock of our own would
 * make a resume that starts at the same moment fail with ABORTED.
 */
import { readFile } from 'node:fs/promises';

/** One file's identity as /proc/locks prints it: "MAJOR:MINOR:INODE" (major and minor in hex). */
export type LockKey = string;

/** The key of a file from its (bigint) stat dev and ino, in the form /proc/locks uses. */
export function lockKeyOf(dev: bigint, ino: bigint): LockKey {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${ino}`;
}

/** Parses /proc/locks text: the keys of files with a FLOCK held (waiters, "->", included: someone has the file open). */
export function parseFlockedInodes(text: string): Set<LockKey> {
  const keys = new Set<LockKey>();
  for (const line of text.split('\n')) {
    const m = /\bFLOCK\s+\S+\s+\S+\s+-?\d+\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (m) keys.add(`${m[1].padStart(2, '0')}:${m[2].padStart(2, '0')}:${m[3]}`);
  }
  return keys;
}

/** The flocked files of the whole host now; empty where /proc/locks cannot be read. */
export async function flockedInodes(): Promise<Set<LockKey>> {
  return parseFlockedInodes(await readFile('/proc/locks', 'utf8').catch(() => ''));
}
