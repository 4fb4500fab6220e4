/** SpanSet against a byte-per-byte model, with random adds in and out of order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpanSet } from '../../agent/disk/span-set.js';

test('adds merge overlapping and touching spans; overlaps is exact at the edges', () => {
  const set = new SpanSet();
  set.add(10, 10); // [10,20)
  set.add(30, 5); // [30,35)
  assert.equal(set.size, 2);
  assert.equal(set.overlaps(20, 10), false);
  assert.equal(set.overlaps(19, 1), true);
  assert.equal(set.overlaps(0, 10), false);
  assert.equal(set.overlaps(34, 100), true);
  set.add(20, 10); // touches both: one [10,35)
  assert.equal(set.size, 1);
  assert.equal(set.overlaps(25, 1), true);
  set.add(0, 3);
  set.add(5, 2);
  assert.equal(set.size, 3);
  set.add(1, 40); // swallows all
  assert.equal(set.size, 1);
  assert.equal(set.overlaps(0, 1), true);
  assert.equal(set.overlaps(41, 5), false);
});

test('matches a byte model over random operations', () => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 50; round += 1) {
    const set = new SpanSet();
    const model = new Uint8Array(600);
    for (let op = 0; op < 60; op += 1) {
      const offset = rand(560);
      const length = 1 + rand(40);
      if (rand(2) === 0) {
        set.add(offset, length);
        model.fill(1, offset, offset + length);
      } else {
        const expected = model.subarray(offset, offset + length).some((b) => b === 1);
        assert.equal(set.overlaps(offset, length), expected, `round ${round} op ${op}: overlaps(${offset}, ${length})`);
      }
    }
    let runs = 0;
    for (let i = 0; i < model.length; i += 1) if (model[i] === 1 && (i === 0 || model[i - 1] === 0)) runs += 1;
    assert.equal(set.size, runs, `round ${round}: intervals stay merged`);
  }
});

test('missingFrom lists the parts of the asked spans not in the set, in order (what a resumed pull still fetches)', () => {
  /** Two spans with a gap between them. */
  const ASKED = [
    { offset: 0, length: 10 },
    { offset: 20, length: 5 },
  ];
  const set = new SpanSet();
  assert.deepEqual(set.missingFrom(ASKED), ASKED, 'empty set: everything');
  set.add(0, 4);
  set.add(6, 2);
  set.add(20, 5);
  assert.deepEqual(
    set.missingFrom(ASKED),
    [
      { offset: 4, length: 2 },
      { offset: 8, length: 2 },
    ],
    'gaps and the tail of the first span; the second is covered',
  );
  assert.deepEqual(
    set.missingFrom([{ offset: 2, length: 20 }]),
    [
      { offset: 4, length: 2 },
      { offset: 8, length: 12 },
    ],
    'a span starting inside an interval and ending inside another',
  );
  set.add(4, 2);
  set.add(8, 2);
  assert.deepEqual(set.missingFrom(ASKED), [], 'all covered');
  assert.deepEqual(set.missingFrom([]), []);
});
