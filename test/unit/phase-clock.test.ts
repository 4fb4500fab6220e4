/**
 * Phase timing: each phase's seconds end where the next begins, a phase
 * entered again adds up, the running phase counts up to now; the text form
 * and the reading of a recorded result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PhaseClock, type PhaseSeconds } from '../../controller/operations/phase-clock.js';
import { formatPhases, phasesOf } from '../../controller/cli/phase-text.js';

/** The seconds a clock reads when the phases `began` have begun in turn, its time `times` (ms) one reading after another, the last repeated. */
function secondsAfter(times: number[], began: string[]): PhaseSeconds {
  let i = 0;
  const clock = new PhaseClock(() => times[Math.min(i++, times.length - 1)] ?? 0);
  for (const name of began) clock.begin(name);
  return clock.seconds();
}

test('each phase lasts until the next begins; names are lowercase, in the order they began', () => {
  const seconds = secondsAfter([0, 410, 1610, 6640, 7000], ['PREFLIGHT', 'PLAN', 'TRANSFER', 'VERIFY']);
  assert.deepEqual(seconds, { preflight: 0.41, plan: 1.2, transfer: 5.03, verify: 0.36 });
  assert.deepEqual(Object.keys(seconds), ['preflight', 'plan', 'transfer', 'verify']);
});

test('a phase entered twice (a retry) adds up', () => {
  assert.deepEqual(secondsAfter([0, 1000, 1500, 3000, 3500], ['TRANSFER', 'REVERT', 'TRANSFER', 'VERIFY']), { transfer: 2.5, revert: 0.5, verify: 0.5 });
});

test('no phase begun: no phases', () => {
  assert.deepEqual(secondsAfter([5], []), {});
});

test('text form, and phases read back from a recorded result (anything else ignored)', () => {
  assert.equal(formatPhases({ preflight: 0.41, plan: 1.2 }), 'preflight 0.41 s, plan 1.2 s');
  assert.deepEqual(phasesOf({ ok: true, phases: { plan: 1.2, bad: 'x', inf: Infinity } }), { plan: 1.2 });
  assert.equal(phasesOf({ ok: true }), undefined);
  assert.equal(phasesOf(null), undefined);
  assert.equal(phasesOf({ phases: {} }), undefined);
});
