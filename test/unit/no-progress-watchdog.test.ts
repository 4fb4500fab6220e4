/**
 * The no-progress watchdog of a pull: it fires once its time passes with no
 * progress, each progress report (re-arm) puts that off, it does not count
 * before it is first armed, and once stopped it never fires.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noProgressWatchdog } from '../../controller/operations/clone/no-progress-watchdog.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('fires once when nothing re-arms it in time', async () => {
  let stalls = 0;
  const watchdog = noProgressWatchdog(50, () => (stalls += 1));
  const armed = Date.now();
  watchdog.arm();
  await sleep(150);
  assert.equal(stalls, 1);
  assert.ok(Date.now() - armed >= 45, 'not before its time');
  watchdog.stop();
});

test('each re-arm puts the stall off; stop ends it for good', async () => {
  let stalls = 0;
  const watchdog = noProgressWatchdog(80, () => (stalls += 1));
  watchdog.arm();
  for (let i = 0; i < 5; i += 1) {
    await sleep(30);
    watchdog.arm();
  }
  assert.equal(stalls, 0, 'progress every 30 ms keeps an 80 ms watchdog away');
  watchdog.stop();
  await sleep(150);
  assert.equal(stalls, 0, 'a stopped watchdog never fires');
});

test('does not count before it is armed, and stop before arm is harmless', async () => {
  let stalls = 0;
  const watchdog = noProgressWatchdog(20, () => (stalls += 1));
  watchdog.stop();
  await sleep(60);
  assert.equal(stalls, 0);
});
