/**
 * The figures `scripts/bench replication` records (written as they are to
 * bench-results/replication-<date>.json) and the table it prints from them,
 * so that what the README quotes traces to one file.
 */
import type { BlockChange, Ext4Image } from './ext4-image.js';

/** One `kvmctl replicate --due` run of the replica, with the change made to the source just before it. */
export interface ScheduledRun {
  kind: 'clone' | 'sync';
  outcome: string;
  startedAt: string;
  finishedAt: string;
  /** The run's own duration (kvmctl's figure). */
  seconds: number;
  /** Wall time of the `kvmctl replicate --due` process that ran it. */
  wallSeconds: number;
  bytesOnWire: number;
  delta: string | null;
  operationId: string | null;
  changeBefore: BlockChange | null;
  error: string | null;
}

/** One `kvmctl status --json` sample of the replica. */
export interface LagSample {
  at: string;
  lagSeconds: number;
  state: string;
  withinRpo: boolean;
  exitCode: number;
}

/** A timed kvmctl command: wall time, kvmctl's own seconds and bytes on the wire. */
export interface TimedOp {
  wallSeconds: number;
  seconds: number;
  bytesOnWire: number;
}

/** Everything one benchmark run measured. */
export interface ReplicationFigures {
  startedAt: string;
  sizeGiB: number;
  minutes: number;
  everySeconds: number;
  tickSeconds: number;
  keep: number;
  changeFraction: number;
  failbackChangeFraction: number;
  image: Ext4Image;
  runs: ScheduledRun[];
  lag: LagSample[];
  restorePoints: {
    /** `kvmctl replica points --json`: the points and the total the agent reports. */
    reportedBytes: number;
    points: unknown[];
    /** The point files beside the copy's image on the destination: allocated (du) and apparent bytes. */
    files: { name: string; allocatedBytes: number; apparentBytes: number }[];
  };
  failover: TimedOp;
  failbackLive: TimedOp & { change: BlockChange; delta: string | null };
  cloneBackLive: TimedOp;
  failbackOffline: TimedOp & { change: BlockChange; delta: string | null };
  cloneBackOffline: TimedOp;
  loadavgAfter: string;
}

/** The median of `xs` (NaN when empty). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * The age of the copy's data just before each sync landed: a successful
 * run's finish minus the start of the successful run before it — the worst
 * lag the copy really had, which samples taken every few seconds can miss.
 */
export function ageAtRefresh(runs: readonly ScheduledRun[]): number[] {
  const ok = runs.filter((r) => r.outcome === 'succeeded');
  return ok.slice(1).map((r, i) => (Date.parse(r.finishedAt) - Date.parse(ok[i].startedAt)) / 1000);
}

const MiB = 2 ** 20;
const mib = (n: number): string => (n / MiB).toFixed(1);
const range = (xs: readonly number[], fmt: (n: number) => string): string =>
  xs.length === 0 ? '-' : `median ${fmt(median(xs))}, min ${fmt(Math.min(...xs))}, max ${fmt(Math.max(...xs))}`;

const row = (label: string, op: TimedOp, wire: string): string => `${label.padEnd(50)} ${op.wallSeconds.toFixed(1).padStart(6)} ${op.seconds.toFixed(1).padStart(10)}   ${wire}`;

/** The table printed at the end of a run. */
export function replicationTable(f: ReplicationFigures): string {
  const syncs = f.runs.filter((r) => r.kind === 'sync' && r.outcome === 'succeeded');
  const clone = f.runs.find((r) => r.kind === 'clone');
  const failed = f.runs.filter((r) => r.outcome !== 'succeeded').length;
  const lags = f.lag.map((s) => s.lagSeconds);
  const ages = ageAtRefresh(f.runs);
  const changes = syncs.flatMap((r) => (r.changeBefore ? [r.changeBefore] : []));
  const pointsAllocated = f.restorePoints.files.reduce((n, p) => n + p.allocatedBytes, 0);
  const lines = [
    `${f.sizeGiB} GiB raw image, ext4 with ${f.image.files} files of unique random data (${mib(f.image.fileBytes)} MiB), ${mib(f.image.allocatedBytes)} MiB allocated`,
    `replica every ${f.everySeconds} s, --keep ${f.keep}; kvmctl replicate --due every ${f.tickSeconds} s for ${f.minutes} min; before each sync ${(f.changeFraction * 100).toFixed(1)} % of the 4 KiB blocks changed (4..64 KiB writes of fresh random bytes at random offsets) in the shut-off source's image file`,
    '',
    `first run (clone)            ${clone ? `${clone.seconds.toFixed(1)} s, ${mib(clone.bytesOnWire)} MiB on the wire` : '-'}`,
    `syncs                        ${syncs.length} succeeded, ${failed} failed`,
    `changed per run              ${range(
      changes.map((c) => c.changedBytes),
      (n) => `${mib(n)} MiB`,
    )} in 4 KiB blocks, touching ${range(
      changes.map((c) => c.blockBytesTouched),
      (n) => mib(n),
    )} MiB of 64 KiB blocks`,
    `sync duration                ${range(
      syncs.map((r) => r.seconds),
      (n) => `${n.toFixed(1)} s`,
    )}`,
    `bytes on the wire per sync   ${range(
      syncs.map((r) => r.bytesOnWire),
      (n) => `${mib(n)} MiB`,
    )}`,
    `lag (kvmctl status, ${String(lags.length).padStart(3)} samples) ${range(lags, (n) => `${n.toFixed(0)} s`)}`,
    `age of the copy at refresh   ${range(ages, (n) => `${n.toFixed(0)} s`)} (a sync's finish minus the previous sync's start)`,
    `restore points               ${f.restorePoints.points.length} kept, ${mib(f.restorePoints.reportedBytes)} MiB (replica points), ${mib(pointsAllocated)} MiB allocated (du of ${f.restorePoints.files.length} point files)`,
    '',
    `${'back home'.padEnd(50)} wall s   kvmctl s   on the wire`,
    row('failover (source shut off, copy started)', f.failover, '-'),
    row(
      `failback, copy running (${mib(f.failbackLive.change.changedBytes)} MiB changed)`,
      f.failbackLive,
      `${mib(f.failbackLive.bytesOnWire)} MiB (${f.failbackLive.delta ?? '-'} delta)`,
    ),
    row('  vs kvmctl clone --live of the running copy', f.cloneBackLive, `${mib(f.cloneBackLive.bytesOnWire)} MiB`),
    row(
      `failback, copy shut off (${mib(f.failbackOffline.change.changedBytes)} MiB changed)`,
      f.failbackOffline,
      `${mib(f.failbackOffline.bytesOnWire)} MiB (${f.failbackOffline.delta ?? '-'} delta)`,
    ),
    row('  vs kvmctl clone of the shut-off copy', f.cloneBackOffline, `${mib(f.cloneBackOffline.bytesOnWire)} MiB`),
  ];
  return lines.join('\n');
}
