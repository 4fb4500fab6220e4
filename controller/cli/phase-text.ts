/**
 * The `phases` of a result (operations/phase-clock.ts) as text: the line
 * under `done:` and in `kvmctl ops show`.
 */
import type { PhaseSeconds } from '../operations/phase-clock.js';

/** "preflight 0.41 s, plan 1.2 s, transfer 5.03 s" — the text form, empty when there are none. */
export function formatPhases(phases: PhaseSeconds): string {
  return Object.entries(phases)
    .map(([name, s]) => `${name} ${s} s`)
    .join(', ');
}

/** The `phases` of a recorded --json result, when it has well-formed ones. */
export function phasesOf(result: unknown): PhaseSeconds | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const phases = (result as { phases?: unknown }).phases;
  if (typeof phases !== 'object' || phases === null) return undefined;
  const entries = Object.entries(phases).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1]));
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}
