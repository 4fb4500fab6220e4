/**
 * The fast subset of the seeded fault matrix (scripts/bench faults runs the
 * full one, issue 11): one trial of every fault for clone, sync and --live
 * sync, with a fixed seed, through the same catalogs and checker. Every trial
 * must leave nothing lost or half-made and converge — within the run or on
 * the rerun. A fault that cannot run in this build is skipped with its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_NAMES } from '../bench/faults/fault-catalog.js';
import { runMatrix } from '../bench/faults/matrix.js';
import { OP_NAMES } from '../bench/faults/operations.js';
import { formatTable } from '../bench/faults/table.js';

/** Fixed, so a failure here replays with `scripts/bench faults --only op:fault:0 --seed 1111`. */
const SEED = 1111;

test('fault matrix, one trial per operation and fault: nothing lost or half-made, every trial converges', async (t) => {
  const result = await runMatrix({ seed: SEED, trials: 1, ops: OP_NAMES, faults: FAULT_NAMES, log: (line) => t.diagnostic(line) });
  t.diagnostic(formatTable(result));
  for (const s of result.skipped) await t.test(`${s.fault}`, { skip: s.reason }, () => undefined);
  assert.equal(result.records.length, OP_NAMES.length * (FAULT_NAMES.length - result.skipped.length), 'one trial per operation and available fault');
  // Moments are drawn from the fault-free run's wall time: most faults land before their run ends.
  assert.ok(result.records.filter((r) => r.injected).length * 2 >= result.records.length, 'most faults landed during their run');
  for (const r of result.records) {
    await t.test(`${r.op}:${r.fault} (fault ${r.injected ? `in ${r.phaseAtInjection}` : 'after the run ended'}; first run exit ${r.first.code})`, () => {
      assert.deepEqual(r.violations, [], `lost or half-made (replay: scripts/bench faults --only ${r.op}:${r.fault}:0 --seed ${SEED})`);
      assert.ok(r.converged, `did not converge: ${r.notes.join('; ')}`);
    });
  }
});

/**
 * The moments a random draw rarely hits and a slower machine did: a clone's
 * controller killed, its destination agent killed, or libvirtd restarted just
 * as DEFINE or COMMIT begins. The run rides out what it can; what it cannot
 * (its own kill) the rerun finishes from the history's commit record.
 */
for (const atPhase of ['DEFINE', 'COMMIT'] as const) {
  test(`clone with kvmctl killed, the destination agent killed, libvirtd restarted as ${atPhase} begins: nothing half-made, every trial converges`, async (t) => {
    const faults = ['kvmctl-kill', 'dst-agent-kill', 'libvirtd-restart'] as const;
    const result = await runMatrix({ seed: SEED, trials: 1, ops: ['clone'], faults, atPhase, log: (line) => t.diagnostic(line) });
    t.diagnostic(formatTable(result));
    assert.equal(result.records.length, faults.length);
    for (const r of result.records) {
      assert.ok(r.injected && r.phaseAtInjection === atPhase, `${r.fault} was injected in ${r.phaseAtInjection || 'no phase'}`);
      assert.deepEqual(r.violations, [], `${r.fault}: lost or half-made (replay: scripts/bench faults --only clone:${r.fault}:0 --seed ${SEED} --at ${atPhase})`);
      assert.ok(r.converged, `${r.fault} did not converge: ${r.notes.join('; ')}`);
    }
  });
}
