/**
 * A server stream's `send` waits once a few messages are unwritten (not once
 * grpc-js's 16-message queue is full), ends its wait when the signal aborts,
 * and still honours the queue's own 'drain'.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { boundedSink } from '../../agent/rpc/bounded-sink.js';
import { MAX_UNWRITTEN } from '../../agent/rpc/send-share.js';

/** An object-mode Writable (as a grpc-js server call) whose writes complete only when `complete` is called. */
function heldWritable(highWaterMark = 16): { call: Writable; complete: () => void; pending: () => number } {
  const held: (() => void)[] = [];
  const call = new Writable({
    objectMode: true,
    highWaterMark,
    write: (_chunk, _enc, cb) => held.push(() => cb()),
  });
  return { call, complete: () => held.shift()?.(), pending: () => held.length + call.writableLength };
}

/** Whether `p` has settled after the event loop turned a few times. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i += 1) await tick();
  return done;
}

test(`send waits once ${MAX_UNWRITTEN} messages are unwritten, and goes on as each is written`, async () => {
  const { call, complete } = heldWritable();
  const send = boundedSink<number>(call, new AbortController().signal);
  const written: number[] = [];
  for (let i = 0; i < MAX_UNWRITTEN - 1; i += 1) assert.ok(await settled(send(i, () => written.push(i))), `message ${i} is taken at once`);
  const last = send(MAX_UNWRITTEN - 1, () => written.push(MAX_UNWRITTEN - 1));
  assert.equal(await settled(last), false, `the ${MAX_UNWRITTEN}th waits although grpc-js's queue (16) has room`);
  complete();
  assert.ok(await settled(last), 'one written: it goes on');
  assert.deepEqual(written, [0]);
  for (let i = 0; i < MAX_UNWRITTEN; i += 1) complete();
  assert.deepEqual(written, [0, 1, 2, 3].slice(0, MAX_UNWRITTEN));
});

test('a wait ends with the signal’s reason when it aborts (a cancelled call writes nothing more)', async () => {
  const { call } = heldWritable();
  const ac = new AbortController();
  const send = boundedSink<number>(call, ac.signal, 2);
  await send(1);
  const waiting = send(2);
  assert.equal(await settled(waiting), false);
  const reason = new DOMException('call cancelled by client', 'AbortError');
  ac.abort(reason);
  await assert.rejects(waiting, (err) => err === reason);
  await assert.rejects(send(3), (err) => err === reason, 'no send after the abort');
});

test("a full queue is still waited on through 'drain'", async () => {
  const { call, complete } = heldWritable(1);
  const send = boundedSink<number>(call, new AbortController().signal, 100);
  const first = send(1);
  assert.equal(await settled(first), false, 'write said the queue is full');
  complete();
  assert.ok(await settled(first), "'drain' came");
});

test('a limit given as a function is read per message: a stream whose share shrinks waits sooner', async () => {
  const { call, complete } = heldWritable();
  let limit = 4;
  const send = boundedSink(call, new AbortController().signal, () => limit);
  assert.ok(await settled(send(0)), 'first message taken at once');
  limit = 2;
  const second = send(1);
  assert.equal(await settled(second), false, 'with the limit now 2, the second unwritten message waits');
  complete();
  assert.ok(await settled(second), 'one written: the wait ends');
});
