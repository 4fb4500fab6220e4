/**
 * The room an in-place sync asks for beside each image: its journal (the
 * changed bytes) and, with --keep, a restore point of about as many again
 * plus the tail a shrink cuts off; a cheap sync with no changes asks for none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inPlaceBytes } from '../../controller/operations/sync/point-space.js';
import type { BlockDiff } from '../../controller/operations/sync/block-diff.js';

const MiB = 1024 * 1024;

function diff(changed: number, destSize: number, sourceSize: number): BlockDiff {
  return { ranges: changed === 0 ? [] : [{ offset: 0, length: changed }], sourceSize, destSize, blocks: 0, changedBlocks: 0 };
}

test('journal only without --keep; journal and undo with it; a shrink adds the cut-off tail', () => {
  assert.equal(inPlaceBytes(diff(10 * MiB, 100 * MiB, 100 * MiB), false), Math.ceil(10 * MiB * 1.05));
  assert.equal(inPlaceBytes(diff(10 * MiB, 100 * MiB, 100 * MiB), true), Math.ceil(20 * MiB * 1.05));
  assert.equal(inPlaceBytes(diff(10 * MiB, 100 * MiB, 60 * MiB), true), Math.ceil(60 * MiB * 1.05));
  assert.equal(inPlaceBytes(diff(0, 100 * MiB, 100 * MiB), true), 0);
});
