/**
 * How the benchmark tables state a ratio over rounds (test/bench/bench-data.ts):
 * median and range, and the wire ratio taken over every round — each round's
 * bytes on the wire against the bytes changed before it, not round 1's alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ratioFigure, wireRatios } from '../bench/bench-data.js';

test('a ratio over rounds: median and range', () => {
  assert.equal(ratioFigure([1.5, 1, 2]), '1.50x (1.00–2.00)');
  assert.equal(ratioFigure([1, 2]), '1.50x (1.00–2.00)');
  assert.equal(ratioFigure([0.755]), '0.76x (0.76–0.76)');
});

test('the wire ratio of every round, each against its own change; rounds without a wire figure left out', () => {
  const rounds = [{ changedBytes: 100, bytesOnWire: 110 }, { changedBytes: 200, bytesOnWire: 300 }, { changedBytes: 100 }, { changedBytes: 50, bytesOnWire: 60 }];
  assert.deepEqual(wireRatios(rounds), [1.1, 1.5, 1.2]);
  assert.equal(ratioFigure(wireRatios(rounds)), '1.20x (1.10–1.50)');
  assert.deepEqual(wireRatios([{ changedBytes: 100 }]), []);
});
