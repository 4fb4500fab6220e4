/**
 * The live benchmark's block picks (test/bench/block-picks.ts): 1 % of the
 * disk's 64 KiB blocks, distinct, in range, the same for the same seed, and
 * scattered — not mostly on 4 MiB boundaries, as the generator they replace
 * put them, and spread over the whole disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK, pickBlocks } from '../bench/block-picks.js';

const GiB = 2 ** 30;

test('1 % of the blocks, distinct, ascending, block-aligned and within the disk', () => {
  const picks = pickBlocks(1, 10);
  assert.equal(picks.length, Math.floor((10 * GiB) / BLOCK / 100));
  assert.equal(new Set(picks).size, picks.length);
  for (let i = 1; i < picks.length; i++) assert.ok((picks[i] ?? 0) > (picks[i - 1] ?? 0));
  for (const o of picks) assert.ok(o % BLOCK === 0 && o >= 0 && o < 10 * GiB, `offset ${o}`);
});

test('the same seed gives the same picks; another seed others', () => {
  assert.deepEqual(pickBlocks(2, 10), pickBlocks(2, 10));
  const a = new Set(pickBlocks(2, 10));
  const shared = pickBlocks(3, 10).filter((o) => a.has(o)).length;
  assert.ok(shared < a.size / 10, `${shared} of ${a.size} picks shared by seeds 2 and 3`);
});

test('scattered: about 1 in 64 on a 4 MiB boundary, and every tenth of the disk gets about a tenth', () => {
  for (const seed of [1, 2, 3, 4]) {
    const picks = pickBlocks(seed, 10);
    const aligned = picks.filter((o) => o % (4 * 2 ** 20) === 0).length / picks.length;
    assert.ok(aligned < 0.05, `seed ${seed}: ${(aligned * 100).toFixed(1)} % of the picks on 4 MiB boundaries`);
    const tenths = Array.from({ length: 10 }, (_, i) => picks.filter((o) => Math.floor(o / GiB) === i).length / picks.length);
    for (const [i, share] of tenths.entries()) assert.ok(share > 0.06 && share < 0.14, `seed ${seed}: ${(share * 100).toFixed(1)} % of the picks in GiB ${i}`);
    const lowBits = new Set(picks.map((o) => (o / BLOCK) % 64));
    assert.ok(lowBits.size >= 60, `seed ${seed}: only ${lowBits.size} of 64 block positions within 4 MiB picked`);
  }
});
