/**
 * A --dry-run is a plan, not a copy: recorded as `planned`, listed as such,
 * and never what a rerun resumes — an interrupted clone recorded before a
 * dry run of the same clone is still the one its rerun finds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperationStore } from '../../controller/history/operation-store.js';

test('a plan is listed as planned and left out of the history a rerun resumes from', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmctl-plans-'));
  const store = new OperationStore(join(dir, 'history.sqlite'));
  try {
    const target = { kind: 'clone' as const, vm: 'web1', destVm: 'web1', sourceHost: 'hosta', destHost: 'hostb' };
    store.begin({ id: 'op-killed', ...target }); // a clone whose controller died: still "running"
    store.begin({ id: 'op-plan', ...target });
    store.finish('op-plan', 'planned', { result: { ok: true, dryRun: true } });
    assert.deepEqual(
      store.list().map((o) => [o.id, o.state]),
      [
        ['op-plan', 'planned'],
        ['op-killed', 'running'],
      ],
    );
    assert.deepEqual(
      store.history(target).map((o) => o.id),
      ['op-killed'],
    );
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
