/**
 * The benchmarks' flags (test/bench/bench-flags.ts): defaults when absent,
 * values as given, and a clear refusal of an unknown flag, a missing value or
 * a value that is not a number the flag takes — never NaN or the default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dataSetsFlag, numberFlag, numberListFlag, parseBenchFlags } from '../bench/bench-flags.js';

const DEFAULTS = { 'size-gib': '10', 'delay-ms': '10' };

test('absent flags take their defaults; given ones their values, in both spellings', () => {
  assert.deepEqual(parseBenchFlags(DEFAULTS, []), { 'size-gib': '10', 'delay-ms': '10' });
  assert.deepEqual(parseBenchFlags(DEFAULTS, ['--size-gib', '2', '--delay-ms=0']), { 'size-gib': '2', 'delay-ms': '0' });
});

test('an unknown flag, a flag without its value, or a stray word is refused', () => {
  assert.throws(() => parseBenchFlags(DEFAULTS, ['--size', '2']), /Unknown option '--size'/);
  assert.throws(() => parseBenchFlags(DEFAULTS, ['--size-gib']), /--size-gib/);
  assert.throws(() => parseBenchFlags(DEFAULTS, ['2']), /positional/);
});

test('numbers: what the rule takes passes, anything else is refused by name', () => {
  assert.equal(numberFlag('size-gib', '4', { min: 1, integer: true }), 4);
  assert.equal(numberFlag('delay-ms', '0', { min: 0 }), 0);
  assert.equal(numberFlag('delay-ms', '2.5', { min: 0 }), 2.5);
  for (const bad of ['', ' ', 'ten', '10ms', 'NaN', 'Infinity', '-1'])
    assert.throws(() => numberFlag('delay-ms', bad, { min: 0 }), { message: `--delay-ms takes a number of at least 0, got '${bad}'` });
  assert.throws(() => numberFlag('size-gib', '0', { min: 1, integer: true }), /--size-gib takes a whole number of at least 1, got '0'/);
  assert.throws(() => numberFlag('size-gib', '1.5', { min: 1, integer: true }), /got '1.5'/);
});

test('lists: each item checked', () => {
  assert.deepEqual(numberListFlag('streams', '1,2,4', { min: 1, integer: true }), [1, 2, 4]);
  assert.throws(() => numberListFlag('streams', '1,,4', { min: 1, integer: true }), /--streams takes a whole number of at least 1, got ''/);
  assert.throws(() => numberListFlag('streams', '1,0', { min: 1, integer: true }), /got '0'/);
});

test('data sets: unique and ext4, each once, in the order given; anything else is refused by name', () => {
  assert.deepEqual(dataSetsFlag('unique,ext4'), ['unique', 'ext4']);
  assert.deepEqual(dataSetsFlag('ext4'), ['ext4']);
  assert.deepEqual(dataSetsFlag('unique,unique'), ['unique']);
  assert.throws(() => dataSetsFlag('unique,random'), /--data takes unique and\/or ext4, got 'random'/);
  assert.throws(() => dataSetsFlag(''), /got ''/);
});
