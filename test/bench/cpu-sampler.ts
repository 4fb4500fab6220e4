/**
 * Where a benchmark step's CPU went: seconds per program (each agent by its
 * host, kvmctl, ssh, sshd, rsync, …) and for the whole machine, so a table
 * can say whether the two shared cores were the limit and who used them.
 *
 * Every process's user + system time is read from /proc every 100 ms; one
 * alive at the start counts what it used since, one started meanwhile all
 * it used (up to its last sample: a process that ends between two samples
 * loses at most 100 ms of its CPU). The machine's figure comes from
 * /proc/stat (user, nice, system, irq, softirq) and misses nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds of one step. */
export interface CpuUse {
  /** Every core's busy time, all processes and the kernel's own work. */
  machine: number;
  /** Per program, largest first: `agent hosta`, `kvmctl`, `ssh`, … */
  byProgram: Record<string, number>;
}

/** Clock ticks per second of /proc's times (USER_HZ: 100 on Linux). */
const TICKS = 100;

function machineBusy(): number {
  const [user, nice, system, , , irq, softirq] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) / TICKS;
}

/** The command name and CPU seconds (user + system, all threads) of one process, or undefined once it is gone. */
export function processCpu(pid: string): { comm: string; seconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), seconds: (Number(fields[11]) + Number(fields[12])) / TICKS };
  } catch {
    return undefined;
  }
}

/** Label and CPU seconds of one process, or undefined once it is gone. */
function labelledCpu(pid: string, agents: ReadonlyMap<string, string>): { label: string; seconds: number } | undefined {
  const cpu = processCpu(pid);
  if (cpu === undefined) return undefined;
  const agent = agents.get(pid);
  if (agent !== undefined) return { label: `agent ${agent}`, seconds: cpu.seconds };
  if (cpu.comm !== 'node') return { label: cpu.comm, seconds: cpu.seconds };
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined; // gone since
  }
  return { label: cmdline.includes('controller/main.js') ? 'kvmctl' : 'node (other)', seconds: cpu.seconds };
}

/**
 * Starts sampling; `stop` ends it and returns the step's CPU use.
 * `agents`: each agent's pid and the host it serves.
 */
export function startCpuSampler(agents: ReadonlyMap<string, string>): { stop(): CpuUse } {
  const at = new Map<string, { label: string; first: number; last: number }>();
  const sample = (started: boolean): void => {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const now = labelledCpu(pid, agents);
      if (now === undefined) continue;
      const seen = at.get(pid);
      if (seen === undefined) at.set(pid, { label: now.label, first: started ? 0 : now.seconds, last: now.seconds });
      else {
        seen.last = now.seconds;
        seen.label = now.label; // a shell that exec'd a program is that program now
      }
    }
  };
  sample(false);
  const machineStart = machineBusy();
  const timer = setInterval(() => sample(true), 100);
  return {
    stop: () => {
      clearInterval(timer);
      sample(true);
      const byProgram: Record<string, number> = {};
      for (const { label, first, last } of at.values()) if (last > first) byProgram[label] = (byProgram[label] ?? 0) + last - first;
      const sorted = Object.entries(byProgram)
        .filter(([, s]) => s >= 0.05)
        .sort((a, b) => b[1] - a[1])
        .map(([k, s]) => [k, Math.round(s * 100) / 100] as const);
      return { machine: Math.round((machineBusy() - machineStart) * 100) / 100, byProgram: Object.fromEntries(sorted) };
    },
  };
}
