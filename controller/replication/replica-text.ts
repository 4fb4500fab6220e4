/**
 * How replicas read on a terminal: the list and status tables and the
 * detail of `replica show`. Times are shown relative to now ("4m ago",
 * "in 11m"), because what an operator asks is how far behind a copy is.
 */
import { formatBytes } from '../cli/reporter.js';
import type { Replica, ReplicaRun } from './replica-store.js';
import type { ReplicaStatus } from './replica-status.js';
import { formatSeconds } from './schedule.js';

/** When the next run is: "in 11m", or "due" once its time has passed. */
export function nextRun(iso: string | null, now: number = Date.now()): string {
  if (iso === null) return '-';
  return Date.parse(iso) <= now ? 'due' : relative(iso, now);
}

/** "4m ago" / "in 11m" / "now" for an ISO time. */
export function relative(iso: string | null, now: number = Date.now()): string {
  if (iso === null) return '-';
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (Math.abs(seconds) < 1) return 'now';
  return seconds < 0 ? `${formatSeconds(-seconds)} ago` : `in ${formatSeconds(seconds)}`;
}

/** A replica's route: "web1@hosta -> web1-dr@hostb". */
export function route(r: Pick<Replica, 'vm' | 'from' | 'to' | 'destVm'>): string {
  return `${r.vm}@${r.from} -> ${r.destVm}@${r.to}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].map((l) => `${l}\n`).join('');
}

/** `replica list`. */
export function replicaTable(rows: readonly { replica: Replica; status: ReplicaStatus }[]): string {
  if (rows.length === 0) return 'no replicas (kvmctl replica add, or replica apply FILE)\n';
  return table(
    ['NAME', 'STATE', 'EVERY', 'KEEP', 'LIVE', 'LAST SYNC', 'NEXT RUN', 'ROUTE'],
    rows.map(({ replica: r, status: s }) => [
      r.name,
      s.state,
      formatSeconds(r.everySeconds),
      r.keep === null ? '-' : String(r.keep),
      r.live ? 'yes' : 'no',
      relative(s.lastSync?.at ?? null),
      nextRun(s.nextRunAt),
      route(r),
    ]),
  );
}

/** `kvmctl status`. */
export function statusTable(statuses: readonly ReplicaStatus[]): string {
  if (statuses.length === 0) return 'no replicas\n';
  return (
    table(
      ['REPLICA', 'STATE', 'LAG', 'RPO', 'LAST SYNC', 'TOOK', 'ON WIRE', 'DELTA', 'NEXT RUN', 'FAILURES'],
      statuses.map((s) => [
        s.replica,
        s.state,
        formatSeconds(s.lagSeconds),
        formatSeconds(s.rpoSeconds),
        relative(s.lastSync?.at ?? null),
        s.lastSync ? `${s.lastSync.seconds}s` : '-',
        s.lastSync ? formatBytes(s.lastSync.bytesOnWire) : '-',
        s.lastSync?.delta ?? '-',
        nextRun(s.nextRunAt),
        String(s.consecutiveFailures),
      ]),
    ) +
    statuses
      .filter((s) => s.lastError !== null && s.consecutiveFailures > 0)
      .map((s) => `${s.replica}: last error: ${s.lastError ?? ''}\n`)
      .join('')
  );
}

/** `replica show NAME`. */
export function replicaDetail(r: Replica, s: ReplicaStatus, runs: readonly ReplicaRun[]): string {
  const lines = [
    `${r.name}: ${route(r)}`,
    `  every ${formatSeconds(r.everySeconds)} (RPO), keep ${r.keep ?? '-'} restore point(s), ${r.live ? 'live (a running source is synced from a point-in-time view)' : 'offline (a running source fails the run)'}`,
    `  target dir ${r.targetDir ?? "(the source's directories)"}; copy ${r.seededAt ? `made ${r.seededAt}` : 'not made yet: the next run clones'}`,
    `  state ${s.state}, lag ${formatSeconds(s.lagSeconds)}, next run ${nextRun(s.nextRunAt)}${s.nextRunAt ? ` (${s.nextRunAt})` : ''}`,
    `  consecutive failures ${r.consecutiveFailures}${r.lastError ? `, last error: ${r.lastError}` : ''}`,
    `  created ${r.createdAt}, updated ${r.updatedAt}`,
    runs.length ? '  runs, newest first:' : '  no runs yet',
    ...runs.map(
      (run) =>
        `    ${run.startedAt}  ${run.kind.padEnd(5)}  ${run.outcome.padEnd(11)}  ${`${run.seconds}s`.padStart(7)}  ${formatBytes(run.bytesOnWire).padStart(10)}  ${(run.delta ?? '-').padEnd(6)}  ${run.operationId ?? '-'}${run.errorMessage ? `  ${run.errorMessage}` : ''}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
