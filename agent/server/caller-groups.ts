/**
 * The supplementary groups of a calling process, for GetInfo's report of who
 * is calling. SO_PEERCRED gives uid, gid and pid only; the groups come from
 * /proc/<pid>/status, read right away. The pid could have exited (or, in
 * theory, been reused) by then, so this is a report, never a permission.
 */
import { readFile } from 'node:fs/promises';

/** Parses the `Groups:` line of a /proc/<pid>/status text; [] when absent. */
export function parseStatusGroups(status: string): number[] {
  const line = status.split('\n').find((l) => l.startsWith('Groups:'));
  if (line === undefined) return [];
  return line
    .slice('Groups:'.length)
    .trim()
    .split(/\s+/)
    .filter((g) => /^\d+$/.test(g))
    .map(Number);
}

/** Supplementary groups of process `pid`, or [] when they cannot be read (gone, or pid unknown). */
export async function callerGroups(pid: number): Promise<number[]> {
  if (!Number.isInteger(pid) || pid <= 0) return [];
  try {
    return parseStatusGroups(await readFile(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return [];
  }
}
