/** The numeric rules of DiskService requests: range validation and merging, field defaults and bounds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmcloneError } from '../../shared/errors.js';
import {
  checkBatchBlocks,
  checkBlockSize,
  checkByteCount,
  checkBatchBytes,
  checkChunkSize,
  checkImageSize,
  checkSpan,
  MAX_IMAGE_BYTES,
  MAX_RANGES,
  normalizeRanges,
} from '../../agent/disk/request-limits.js';

/** Asserts that `fn` throws a KvmcloneError with `code` whose message matches `message`. */
function throwsCode(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof KvmcloneError && err.code === code && message.test(err.message));
}

test('normalizeRanges sorts, merges overlapping and touching ranges, keeps gaps', () => {
  const got = normalizeRanges(
    [
      { offset: 100, length: 50 },
      { offset: 0, length: 10 },
      { offset: 10, length: 5 },
      { offset: 120, length: 100 },
      { offset: 400, length: 1 },
      { offset: 130, length: 10 },
    ],
    1000,
  );
  assert.deepEqual(got, [
    { offset: 0, length: 15 },
    { offset: 100, length: 120 },
    { offset: 400, length: 1 },
  ]);
});

test('normalizeRanges: no ranges means the whole file, or nothing for an empty file', () => {
  assert.deepEqual(normalizeRanges([], 4096), [{ offset: 0, length: 4096 }]);
  assert.deepEqual(normalizeRanges([], 0), []);
});

test('normalizeRanges refuses ranges past the end, empty ranges, inexact numbers and too many ranges', () => {
  throwsCode(
    () =>
      normalizeRanges(
        [
          { offset: 0, length: 10 },
          { offset: 995, length: 6 },
        ],
        1000,
      ),
    'OUT_OF_RANGE',
    /ranges\[1\].*995 to 1001.*1000 bytes/,
  );
  throwsCode(() => normalizeRanges([{ offset: 5, length: 0 }], 1000), 'INVALID_ARGUMENT', /ranges\[0\]\.length/);
  throwsCode(() => normalizeRanges([{ offset: 2 ** 64, length: 1 }], 1000), 'INVALID_ARGUMENT', /ranges\[0\]\.offset/);
  throwsCode(() => normalizeRanges([{ offset: Number.MAX_SAFE_INTEGER, length: 2 }], Number.MAX_SAFE_INTEGER), 'INVALID_ARGUMENT', /overflows/);
  const many = Array.from({ length: MAX_RANGES + 1 }, (_, i) => ({ offset: i, length: 1 }));
  throwsCode(() => normalizeRanges(many, MAX_RANGES + 1), 'INVALID_ARGUMENT', /65537 ranges/);
});

test('checkSpan accepts a span that ends exactly at the end of the file', () => {
  assert.deepEqual(checkSpan({ offset: 10, length: 990 }, 1000, 'zero'), { offset: 10, length: 990 });
  throwsCode(() => checkSpan({ offset: 10, length: 991 }, 1000, 'zero'), 'OUT_OF_RANGE', /^zero:/);
});

test('block_size: 0 is 64 KiB; powers of two from 4 KiB to 4 MiB; nothing else', () => {
  assert.equal(checkBlockSize(0), 65536);
  for (const ok of [4096, 8192, 65536, 4194304]) assert.equal(checkBlockSize(ok), ok);
  for (const bad of [1, 2048, 4095, 12288, 8388608, -4096, 4096.5]) throwsCode(() => checkBlockSize(bad), 'INVALID_ARGUMENT', /^block_size: /);
});

test('batch_blocks: 0 is 1024; 1 to 65536', () => {
  assert.equal(checkBatchBlocks(0), 1024);
  assert.equal(checkBatchBlocks(1), 1);
  assert.equal(checkBatchBlocks(65536), 65536);
  throwsCode(() => checkBatchBlocks(65537), 'INVALID_ARGUMENT', /^batch_blocks: /);
});

test('chunk_size: 0 is 1 MiB; multiples of 64 KiB from 64 KiB to 4 MiB', () => {
  assert.equal(checkChunkSize(0), 1024 * 1024);
  assert.equal(checkChunkSize(65536), 65536);
  assert.equal(checkChunkSize(3 * 65536), 3 * 65536);
  assert.equal(checkChunkSize(4 * 1024 * 1024), 4 * 1024 * 1024);
  for (const bad of [4096, 65537, 100000, 4 * 1024 * 1024 + 65536]) throwsCode(() => checkChunkSize(bad), 'INVALID_ARGUMENT', /^chunk_size: /);
});

test('batch_bytes: 0 for none; 64 KiB to 4 MiB', () => {
  assert.equal(checkBatchBytes(0), 0);
  assert.equal(checkBatchBytes(65536), 65536);
  assert.equal(checkBatchBytes(1_000_000), 1_000_000);
  assert.equal(checkBatchBytes(4 * 1024 * 1024), 4 * 1024 * 1024);
  for (const bad of [1, 65535, 4 * 1024 * 1024 + 1, 1.5 * 65536 + 0.5]) throwsCode(() => checkBatchBytes(bad), 'INVALID_ARGUMENT', /^batch_bytes: /);
});

test('image size: positive, exact, at most 64 TiB', () => {
  assert.equal(checkImageSize(MAX_IMAGE_BYTES), MAX_IMAGE_BYTES);
  throwsCode(() => checkImageSize(0), 'INVALID_ARGUMENT', /greater than 0/);
  throwsCode(() => checkImageSize(MAX_IMAGE_BYTES + 1), 'INVALID_ARGUMENT', /64 TiB/);
  throwsCode(() => checkByteCount(-1, 'data.offset'), 'INVALID_ARGUMENT', /^data\.offset: /);
});
