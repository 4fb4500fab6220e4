/**
 * The agent's server streams share one budget: a stream alone keeps its full
 * read-ahead and unwritten messages, many streams at once hold less each, so
 * what they hold together stays near the budget instead of growing with them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_READ_DEPTH, MAX_UNWRITTEN, SEND_BUDGET_MESSAGES, SendShare } from '../../agent/rpc/send-share.js';

test('a stream alone gets the full depth and unwritten messages', () => {
  const share = new SendShare();
  const slot = share.join();
  assert.equal(slot.readDepth(), MAX_READ_DEPTH);
  assert.equal(slot.unwritten(), MAX_UNWRITTEN);
});

test("as streams join, each one's limits shrink and the total stays near the budget; leaving gives the share back", () => {
  const share = new SendShare();
  const slots = Array.from({ length: 8 }, () => share.join());
  assert.equal(share.active, 8);
  for (const slot of slots) {
    assert.equal(slot.readDepth(), 1, 'one read ahead under 8 streams');
    assert.equal(slot.unwritten(), 2, 'two unwritten messages under 8 streams');
  }
  const held = slots.reduce((sum, s) => sum + s.readDepth() + s.unwritten(), 0);
  assert.ok(held <= SEND_BUDGET_MESSAGES, `8 streams hold ${held} messages, within the budget of ${SEND_BUDGET_MESSAGES}`);
  for (const slot of slots.slice(1)) slot.leave();
  assert.equal(share.active, 1);
  assert.equal(slots[0]?.readDepth(), MAX_READ_DEPTH, 'the one left regains the full depth');
  assert.equal(slots[0]?.unwritten(), MAX_UNWRITTEN);
});

test('every stream keeps at least one read and one unwritten message however many join, and leave is idempotent', () => {
  const share = new SendShare();
  const slots = Array.from({ length: 100 }, () => share.join());
  assert.equal(slots[0]?.readDepth(), 1);
  assert.equal(slots[0]?.unwritten(), 1);
  slots[0]?.leave();
  slots[0]?.leave();
  assert.equal(share.active, 99, 'a second leave does not give back a share twice');
});

test('four streams keep a deeper pipe than eight (budget divided, not a fixed cut)', () => {
  const share = new SendShare();
  const four = Array.from({ length: 4 }, () => share.join());
  assert.equal(four[0]?.readDepth(), 2);
  assert.equal(four[0]?.unwritten(), MAX_UNWRITTEN);
});
