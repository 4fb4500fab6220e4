/**
 * `replica apply`: the file is validated strictly with every problem named;
 * the plan adds, changes settings in place, removes only with --prune,
 * refuses identity changes and a copy another replica keeps; carrying it out
 * makes the store match the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../shared/config/config-file.js';
import { OperationStore } from '../../controller/history/operation-store.js';
import { applyPlan, planApply, planText, readReplicaFile, type ApplyPlan } from '../../controller/replication/replica-file.js';
import { ReplicaStore, type ReplicaSpec } from '../../controller/replication/replica-store.js';
import { replicaSpec } from '../../controller/replication/replica-spec.js';
import { withTempDir } from '../support/temp-dir.js';

const withDir = (body: (dir: string) => Promise<void>): Promise<void> => withTempDir('replica-apply-', body);

test('a bad file names every problem', () =>
  withDir(async (dir) => {
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      [
        'replicas:',
        '  - name: "web 1"',
        '    vm: web1',
        '    from: -x',
        '    to: hostb',
        '    every: 5s',
        '    colour: red',
        '    target_dir: rel',
        '  - name: db1',
        '    vm: db1',
        '    from: h',
        '    to: h',
        '    every: 1h',
        '    keep: 0',
        '  - name: db1',
        '    vm: db2',
        '    from: h',
        '    to: k',
        '    dest_name: db1',
        '    every: 1m',
      ].join('\n'),
    );
    const err = await readReplicaFile(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError);
    const problems = err.problems.join('\n');
    for (const expected of [
      /replicas\.0\.name: "web 1" is not a valid VM name/,
      /replicas\.0\.from: HOST "-x"/,
      /replicas\.0\.every: "5s" is outside/,
      /replicas\.0\.colour: unknown key/,
      /replicas\.0\.target_dir: .*not an absolute path/,
      /replicas\.1\.keep: 0 is not a whole number/,
      /replicas\.1\.dest_name: a replica on its source's host/,
      /replicas\.2\.name: db1 is listed twice/,
    ]) {
      assert.match(problems, expected);
    }
  }));

/** The replicas in the store before the file is applied: web1 and old (every 15m), same (every 1m, keep 2). */
function addThree(store: ReplicaStore): void {
  store.add({ name: 'web1', vm: 'web1', from: 'hosta', to: 'hostb', destVm: 'web1', targetDir: null, everySeconds: 900, keep: null, live: false });
  store.add({ name: 'old', vm: 'old', from: 'hosta', to: 'hostb', destVm: 'old', targetDir: null, everySeconds: 900, keep: null, live: false });
  store.add({ name: 'same', vm: 'same', from: 'hosta', to: 'hostb', destVm: 'same', targetDir: null, everySeconds: 60, keep: 2, live: false });
}

/** The file to apply: web1 changed, db1 new, same unchanged, old not listed. */
async function desiredFile(dir: string): Promise<ReplicaSpec[]> {
  const file = join(dir, 'r.yaml');
  await writeFile(
    file,
    [
      'replicas:',
      '  - { name: web1, vm: web1, from: hosta, to: hostb, every: 5m, keep: 3 }',
      '  - { name: db1, vm: db1, from: hosta, to: hostc, every: 1h }',
      '  - { name: same, vm: same, from: hosta, to: hostb, every: 1m, keep: 2 }',
    ].join('\n'),
  );
  return readReplicaFile(file);
}

/** The plan without --prune: db1 added, web1 changed, old unlisted, same unchanged, and its text. */
function checkPlan(plan: ApplyPlan, desired: ReplicaSpec[]): void {
  assert.deepEqual(
    plan.add.map((s) => s.name),
    ['db1'],
  );
  assert.deepEqual(plan.change, [
    {
      name: 'web1',
      fields: [
        { field: 'every', from: 900, to: 300 },
        { field: 'keep', from: null, to: 3 },
      ],
    },
  ]);
  assert.deepEqual(plan.unlisted, ['old']);
  assert.deepEqual(plan.remove, []);
  assert.deepEqual(plan.unchanged, ['same']);
  assert.match(planText(plan, desired), /^\+ add db1: db1@hosta -> db1@hostc every 1h$/m);
  assert.match(planText(plan, desired), /^~ change web1: every 15m -> 5m, keep - -> 3$/m);
}

/** A plan that moves a replica to another host, or adds a second replica of the same copy, is refused. */
function checkRefusals(store: ReplicaStore, desired: ReplicaSpec[]): void {
  const moved = planApply(
    store.list(),
    desired.map((d) => (d.name === 'web1' ? { ...d, to: 'hostz' } : d)),
    false,
  );
  assert.equal(moved.refused.length, 1);
  assert.match(moved.refused[0]?.reason ?? '', /to hostb -> hostz: .*kvmctl replica rm web1/);
  assert.throws(() => applyPlan(store, desired, moved), /refusals/);
  const clash = planApply(store.list(), [...desired, { ...desired[0], name: 'web2' }], false);
  assert.match(clash.refused[0]?.reason ?? '', /replica web1 already keeps web1 on hostb/);
}

test('plan and apply: add, change, unlisted, prune, refusals', () =>
  withDir(async (dir) => {
    const ops = new OperationStore(join(dir, 'h.sqlite'));
    try {
      const store = new ReplicaStore(ops.database);
      addThree(store);
      const desired = await desiredFile(dir);
      const plan = planApply(store.list(), desired, false);
      checkPlan(plan, desired);
      applyPlan(store, desired, plan);
      assert.deepEqual(
        store.list().map((r) => r.name),
        ['db1', 'old', 'same', 'web1'],
      );
      assert.equal(store.get('web1').everySeconds, 300);
      const pruned = planApply(store.list(), desired, true);
      assert.deepEqual(pruned.remove, ['old']);
      assert.deepEqual([pruned.add, pruned.change], [[], []]);
      applyPlan(store, desired, pruned);
      assert.deepEqual(
        store.list().map((r) => r.name),
        ['db1', 'same', 'web1'],
      );

      checkRefusals(store, desired);
    } finally {
      ops.close();
    }
  }));

test('a replica keeps 1 to 64 restore points, live or not', () => {
  const base = { name: 'web1', vm: 'web1', from: 'hosta', to: 'hostb', every: '15m' };
  assert.equal(replicaSpec({ ...base, keep: '3' }).keep, 3);
  assert.equal(replicaSpec({ ...base, keep: 64 }).keep, 64);
  assert.throws(() => replicaSpec({ ...base, keep: '65' }), /--keep: "65" is not a whole number from 1 to 64/);
  assert.equal(replicaSpec({ ...base, keep: '2', live: true }).keep, 2, 'a live replica keeps points too');
  assert.equal(replicaSpec({ ...base, live: true }).keep, null);
});
