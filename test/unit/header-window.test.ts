import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderWindow } from '../../agent/transfer/in-place-header.js';

test('pieces straddling the window are split: the inside is held back, the rest goes to the journal', () => {
  const w = new HeaderWindow(16);
  assert.equal(w.touched, false);
  assert.deepEqual(w.takeData(20, Buffer.from('after')), { offset: 20, data: Buffer.from('after') }, 'past the window: untouched');
  const rest = w.takeData(12, Buffer.from('abcdefgh'));
  assert.deepEqual(rest, { offset: 16, data: Buffer.from('efgh') });
  assert.equal(w.takeData(0, Buffer.from('0123')), undefined, 'wholly inside: held back');
  assert.deepEqual(w.takeZero(2, 20), { offset: 16, length: 6 });
  assert.equal(w.touched, true);
});

test('the held pieces are laid over the first bytes in the order they came', () => {
  const w = new HeaderWindow(16);
  w.takeData(0, Buffer.from('AAAAAAAA'));
  w.takeZero(2, 2);
  w.takeData(3, Buffer.from('B'));
  w.takeData(14, Buffer.from('CCCC'));
  const bytes = Buffer.from('................');
  w.overlay(bytes);
  assert.equal(bytes.toString('latin1'), 'AA\0BAAAA......CC');
});
