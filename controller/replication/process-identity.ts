/**
 * Who holds a replica's claim, precisely enough to tell a live holder from a
 * dead one: the pid alone could be reused by an unrelated process after the
 * holder died (a killed `kvmctl replicate`), so the kernel's start time of
 * that process (field 22 of /proc/PID/stat) is kept beside it.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** One process on one machine. */
export interface ProcessIdentity {
  host: string;
  pid: number;
  /** Start time in clock ticks since boot, '' where /proc cannot tell. */
  startTicks: string;
}

/** Fields 3 onwards of /proc/PID/stat, or undefined when there is no such process. */
function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The start time of `pid` from /proc, or undefined when there is no such process. */
export function processStartTicks(pid: number): string | undefined {
  const fields = statFields(pid);
  return fields === undefined ? undefined : (fields[19] ?? '');
}

/**
 * Like processStartTicks, but undefined also for a process that has exited
 * and waits to be reaped (a zombie): a process that is not our child (a
 * daemon we started) may stay one for as long as nobody reaps it.
 */
export function runningStartTicks(pid: number): string | undefined {
  const fields = statFields(pid);
  if (fields === undefined || fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19] ?? '';
}

/** This process. */
export function currentProcess(): ProcessIdentity {
  return { host: hostname(), pid: process.pid, startTicks: processStartTicks(process.pid) ?? '' };
}

/**
 * True while `holder` still runs. A holder on another machine (a database
 * copied with a home directory) cannot be running here: not alive.
 */
export function isAlive(holder: ProcessIdentity): boolean {
  if (holder.host !== hostname()) return false;
  const ticks = processStartTicks(holder.pid);
  return ticks !== undefined && (holder.startTicks === '' || ticks === holder.startTicks);
}
