/**
 * Schedule math: intervals parsed and bounded, backoff 1, 2, 4 … minutes
 * capped at 60, next run from the last success's start (at once when never
 * run, the backoff after a failure, none when paused or failed over).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffSeconds, formatSeconds, isDue, nextRunAt, parseEvery, type ScheduleFacts } from '../../controller/replication/schedule.js';

test('intervals: units, bounds, formatting', () => {
  assert.equal(parseEvery('15m'), 900);
  assert.equal(parseEvery('1h'), 3600);
  assert.equal(parseEvery('10s'), 10);
  assert.equal(parseEvery(30), 30);
  assert.throws(() => parseEvery('9s'), /outside 10s/);
  assert.throws(() => parseEvery('8d'), /is not an interval/, 'days are not a unit of durations');
  assert.throws(() => parseEvery('200h'), /outside/);
  assert.throws(() => parseEvery('soon'), /not an interval/);
  assert.equal(formatSeconds(900), '15m');
  assert.equal(formatSeconds(5400), '1h30m');
  assert.equal(formatSeconds(45), '45s');
  assert.equal(formatSeconds(90061), '1d1h1m1s');
});

test('backoff: 1, 2, 4, 8, 16, 32, then 60 minutes', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 100].map(backoffSeconds), [0, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
});

test('next run', () => {
  const base: ScheduleFacts = {
    everySeconds: 900,
    paused: false,
    lifecycle: 'active',
    createdAt: '2030-01-01T00:00:00.000Z',
    consecutiveFailures: 0,
    nextAttemptAt: null,
    lastSuccessAt: undefined,
  };
  const t = (iso: string): number => Date.parse(iso);
  assert.equal(nextRunAt(base), t('2030-01-01T00:00:00.000Z'), 'never run: at once');
  const synced = { ...base, lastSuccessAt: '2030-01-01T01:00:00.000Z' };
  assert.equal(nextRunAt(synced), t('2030-01-01T01:15:00.000Z'));
  assert.equal(isDue(synced, t('2030-01-01T01:14:59.000Z')), false);
  assert.equal(isDue(synced, t('2030-01-01T01:15:00.000Z')), true);
  const failing = { ...synced, consecutiveFailures: 2, nextAttemptAt: '2030-01-01T01:20:00.000Z' };
  assert.equal(isDue(failing, t('2030-01-01T01:16:00.000Z')), false, 'backing off');
  assert.equal(isDue(failing, t('2030-01-01T01:20:00.000Z')), true);
  assert.equal(nextRunAt({ ...synced, paused: true }), undefined);
  assert.equal(nextRunAt({ ...synced, lifecycle: 'failed-over' }), undefined);
  assert.equal(isDue({ ...synced, paused: true }, t('2031-01-01T00:00:00.000Z')), false);
});
