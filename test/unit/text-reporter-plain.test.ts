/**
 * The text reporter without a terminal (`kvmctl clone ... 2> file`, a pipe,
 * a CI log): no bar frames, no carriage returns or escape codes, one plain
 * line per item every few seconds; on a terminal the bars are drawn. The
 * stream and the clock are fakes, so the rate limit is exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drawsBars, PLAIN_PROGRESS_INTERVAL_MS, TextReporter, type TextOutput } from '../../controller/cli/text-reporter.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function fakeOutput(isTTY: boolean): TextOutput & { text: () => string } {
  let written = '';
  return {
    isTTY,
    write: (s: string) => {
      written += s;
      return true;
    },
    text: () => written,
  };
}

/** A clock the test moves by hand. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** Drives one copy of `total` bytes at 64 MiB/s for `seconds`, a progress call every 100 ms. */
function copy(reporter: TextReporter, clock: ReturnType<typeof fakeClock>, item: string, total: number, seconds: number): void {
  reporter.progress(item, 0, total);
  for (let ms = 100; ms <= seconds * 1000; ms += 100) {
    clock.advance(100);
    reporter.progress(item, Math.min(total, (64 * MiB * ms) / 1000), total);
  }
}

test('no terminal: one plain line per item every five seconds, nothing with \\r or an escape code', () => {
  const out = fakeOutput(false);
  const clock = fakeClock();
  const reporter = new TextReporter(out, { showDebug: false, now: clock.now });
  reporter.phase('TRANSFER', '1 disk');
  copy(reporter, clock, 'vdb', 5 * GiB, 20);
  reporter.warn('slow');
  reporter.retry({ phase: 'TRANSFER', host: 'hostb', attempt: 1, attempts: 6, delayMs: 2000, reason: 'EOF' });
  reporter.itemDone('vdb', 'copied 5.0 GiB');
  reporter.result({ ok: true, operation: 'clone', vm: 'web1', destVm: 'web1', seconds: 20, bytesOnWire: 5 * GiB, id: 'op1' });
  reporter.close();
  const text = out.text();
  // eslint-disable-next-line no-control-regex -- no carriage return or escape in plain output
  assert.doesNotMatch(text, /[\r\x1b]/);
  assert.equal(PLAIN_PROGRESS_INTERVAL_MS, 5000);
  assert.deepEqual(text.split('\n'), [
    'TRANSFER: 1 disk',
    '  vdb: 320.0 MiB of 5.0 GiB, 64.0 MiB/s, ETA 1:15',
    '  vdb: 640.0 MiB of 5.0 GiB, 64.0 MiB/s, ETA 1:10',
    '  vdb: 960.0 MiB of 5.0 GiB, 64.0 MiB/s, ETA 1:05',
    '  vdb: 1.3 GiB of 5.0 GiB, 64.0 MiB/s, ETA 1:00',
    'warning: slow',
    'connection to hostb lost (EOF); retry 1/6 in 2.0 s',
    '  vdb: copied 5.0 GiB',
    'done: clone web1 -> web1 in 20 s, 5.0 GiB on the wire (operation op1)',
    '',
  ]);
});

test('no terminal: the limit is per item, and an item done within the interval says only its done line', () => {
  const out = fakeOutput(false);
  const clock = fakeClock();
  const reporter = new TextReporter(out, { now: clock.now, plainIntervalMs: 2000 });
  reporter.progress('vda', 0, GiB);
  reporter.progress('vdb', 0, GiB);
  for (let i = 1; i <= 30; i += 1) {
    clock.advance(100);
    reporter.progress('vda', i * 10 * MiB, GiB);
    reporter.progress('vdb', i * 5 * MiB, GiB);
  }
  reporter.progress('nvram', 0, 128 * 1024);
  clock.advance(50);
  reporter.progress('nvram', 128 * 1024, 128 * 1024);
  reporter.itemDone('nvram', 'copied 128.0 KiB');
  const lines = out.text().trimEnd().split('\n');
  assert.deepEqual(lines, ['  vda: 200.0 MiB of 1.0 GiB, 100.0 MiB/s, ETA 0:08', '  vdb: 100.0 MiB of 1.0 GiB, 50.0 MiB/s, ETA 0:18', '  nvram: copied 128.0 KiB']);
});

test('a terminal gets redrawn bars; without an explicit choice the stream decides, and TERM=dumb draws none', () => {
  const out = fakeOutput(true);
  const clock = fakeClock();
  const reporter = new TextReporter(out, { now: clock.now });
  copy(reporter, clock, 'vdb', GiB, 1);
  reporter.itemDone('vdb', 'copied');
  // eslint-disable-next-line no-control-regex -- the cursor-up and clear escapes of a TTY
  assert.match(out.text(), /\x1b\[1A\x1b\[J/);
  assert.match(out.text(), /vdb +\[#+\.*\] 64\.0 MiB \/ 1\.0 GiB {2}64\.0 MiB\/s {2}ETA 0:15/);
  assert.equal(drawsBars({ isTTY: true, write: () => true }, { TERM: 'xterm-256color' }), true);
  assert.equal(drawsBars({ isTTY: true, write: () => true }, { TERM: 'dumb' }), false);
  assert.equal(drawsBars({ isTTY: false, write: () => true }, {}), false);
  assert.equal(drawsBars({ write: () => true }, {}), false);
});
