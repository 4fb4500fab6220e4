/**
 * ParkedPulls: an in-place pull cut short by a dropped connection waits for
 * the same operation's retry, and is dropped (its journal discarded) by any
 * other operation's pull, by its time limit and at shutdown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { ParkedPulls, type ParkedPull } from '../../agent/transfer/parked-pulls.js';

const log = pino({ level: 'silent' });

function pull(operationId: string, state: string, dropped: string[]): ParkedPull<string> {
  return { operationId, state, drop: async () => void dropped.push(state) };
}

test('the same operation takes its parked pull back, once; nothing is dropped', async () => {
  const dropped: string[] = [];
  const parked = new ParkedPulls<string>(log);
  await parked.park('/img/a.raw', pull('op-1', 'A', dropped));
  assert.equal(parked.size, 1);
  assert.equal(await parked.take('/img/b.raw', 'op-1'), undefined, 'another image has none');
  assert.equal(await parked.take('/img/a.raw', 'op-1'), 'A');
  assert.equal(await parked.take('/img/a.raw', 'op-1'), undefined, 'taken once');
  assert.equal(parked.size, 0);
  assert.deepEqual(dropped, []);
});

test("another operation's pull (or one without an id) drops the parked pull instead of waiting for it", async () => {
  const dropped: string[] = [];
  const parked = new ParkedPulls<string>(log);
  await parked.park('/img/a.raw', pull('op-1', 'A', dropped));
  assert.equal(await parked.take('/img/a.raw', 'op-2'), undefined);
  assert.deepEqual(dropped, ['A']);
  await parked.park('/img/a.raw', pull('op-1', 'B', dropped));
  assert.equal(await parked.take('/img/a.raw', ''), undefined);
  assert.deepEqual(dropped, ['A', 'B']);
  assert.equal(parked.size, 0);
});

test('a second park of the same image drops the first; the time limit and shutdown drop the rest', async () => {
  const dropped: string[] = [];
  const parked = new ParkedPulls<string>(log, 50);
  await parked.park('/img/a.raw', pull('op-1', 'A', dropped));
  await parked.park('/img/a.raw', pull('op-1', 'A2', dropped));
  assert.deepEqual(dropped, ['A']);
  await sleep(120);
  assert.deepEqual(dropped, ['A', 'A2'], 'no retry within the limit');
  assert.equal(await parked.take('/img/a.raw', 'op-1'), undefined);
  const lasting = new ParkedPulls<string>(log);
  await lasting.park('/img/b.raw', pull('op-3', 'B', dropped));
  await lasting.park('/img/c.raw', pull('op-4', 'C', dropped));
  await lasting.dropAll('the agent is shutting down');
  assert.deepEqual(dropped.slice(2).sort(), ['B', 'C']);
  assert.equal(lasting.size, 0);
});
