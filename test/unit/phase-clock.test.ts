/**
 * Phase timing: each phase's seconds end where the next begins, a phase
 * entered again adds up, the running phase counts up to now; the text form
 * and the reading of a recorded result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PhaseClock } from '../../controller/operations/phase-clock.js';
import { formatPhases, phasesOf } from '../../controller/cli/phase-text.js';

function clockAt(times: number[]): PhaseClock {
  let i = 0;
  return new PhaseClock(() => times[Math.min(i++, times.length - 1)] ?? 0);
}

test('each phase lasts until the next begins; names are lowercase, in the order they began', () => {
  const clock = clockAt([0, 410, 1610, 6640, 7000]);
  clock.begin('PREFLIGHT');
  clock.begin('PLAN');
  clock.begin('TRANSFER');
  clock.begin('VERIFY');
  assert.deepEqual(clock.seconds(), { preflight: 0.41, plan: 1.2, transfer: 5.03, verify: 0.36 });
  assert.deepEqual(Object.keys(clock.seconds()), ['preflight', 'plan', 'transfer', 'verify']);
});

test('a phase entered twice (a retry) adds up', () => {
  const clock = clockAt([0, 1000, 1500, 3000, 3500]);
  clock.begin('TRANSFER');
  clock.begin('REVERT');
  clock.begin('TRANSFER');
  clock.begin('VERIFY');
  assert.deepEqual(clock.seconds(), { transfer: 2.5, revert: 0.5, verify: 0.5 });
});

test('no phase begun: no phases', () => {
  assert.deepEqual(clockAt([5]).seconds(), {});
});

test('text form, and phases read back from a recorded result (anything else ignored)', () => {
  assert.equal(formatPhases({ preflight: 0.41, plan: 1.2 }), 'preflight 0.41 s, plan 1.2 s');
  assert.deepEqual(phasesOf({ ok: true, phases: { plan: 1.2, bad: 'x', inf: Infinity } }), { plan: 1.2 });
  assert.equal(phasesOf({ ok: true }), undefined);
  assert.equal(phasesOf(null), undefined);
  assert.equal(phasesOf({ phases: {} }), undefined);
});
