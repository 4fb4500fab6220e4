/**
 * The matrix's table: one row per operation and fault — trials, how many the
 * fault landed in (before the run ended) and in which phases, survived within
 * the run, converged on rerun, not converged, lost or half-made — then the
 * skipped faults with their reasons and the seed to replay with.
 */
import type { MatrixResult } from './matrix.js';
import type { TrialRecord } from './trial-runner.js';

/** Counts of one row. */
export interface RowCounts {
  trials: number;
  injected: number;
  survived: number;
  convergedOnRerun: number;
  notConverged: number;
  lostOrHalfMade: number;
  phases: string;
}

/** Counts for a group of trials. */
export function countRow(records: readonly TrialRecord[]): RowCounts {
  const phases = new Map<string, number>();
  for (const r of records) if (r.injected) phases.set(r.phaseAtInjection.split(' ')[0] ?? '', (phases.get(r.phaseAtInjection.split(' ')[0] ?? '') ?? 0) + 1);
  return {
    trials: records.length,
    injected: records.filter((r) => r.injected).length,
    survived: records.filter((r) => r.survived).length,
    convergedOnRerun: records.filter((r) => !r.survived && r.converged).length,
    notConverged: records.filter((r) => !r.converged).length,
    lostOrHalfMade: records.filter((r) => r.violations.length > 0).length,
    phases: [...phases].map(([p, n]) => `${p}:${n}`).join(' '),
  };
}

/** Whether the matrix passed: nothing lost or half-made, every trial converged. */
export function matrixPassed(result: MatrixResult): boolean {
  return result.records.every((r) => r.violations.length === 0 && r.converged);
}

/** The table, as printed. */
export function formatTable(result: MatrixResult): string {
  const header = ['operation', 'fault', 'trials', 'injected', 'survived', 'converged on rerun', 'not converged', 'lost or half-made', 'phases at injection'];
  const rows: string[][] = [];
  const keys = [...new Set(result.records.map((r) => `${r.op}\t${r.fault}`))];
  for (const key of keys) {
    const [op, fault] = key.split('\t') as [string, string];
    const c = countRow(result.records.filter((r) => r.op === op && r.fault === fault));
    rows.push([op, fault, c.trials, c.injected, c.survived, c.convergedOnRerun, c.notConverged, c.lostOrHalfMade, c.phases].map(String));
  }
  const all = countRow(result.records);
  rows.push(['all', '', all.trials, all.injected, all.survived, all.convergedOnRerun, all.notConverged, all.lostOrHalfMade, ''].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < 2 || i === cells.length - 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  for (const s of result.skipped) out.push(`skipped ${s.fault}: ${s.reason}`);
  const calibration = Object.entries(result.calibrationMs)
    .map(([op, ms]) => `${op} ${((ms ?? 0) / 1000).toFixed(1)} s`)
    .join(', ');
  out.push(`seed ${result.seed}; ${result.records.length} trials in ${result.seconds} s; fault-free runs: ${calibration}`);
  for (const r of result.records.filter((x) => x.violations.length > 0 || !x.converged)) {
    out.push(
      `FAILED ${r.op}:${r.fault}:${r.index} (replay: scripts/bench faults --only ${r.op}:${r.fault}:${r.index} --seed ${result.seed}): ${[...r.violations, ...r.notes].join('; ')}`,
    );
  }
  return out.join('\n');
}
