/**
 * Where an image's bytes are: data, holes, and all-zero runs.
 *
 * Holes are never read or sent (ARCHITECTURE: "never read or send holes"), so
 * every reader in the data plane walks the file through this map. The file
 * layer comes from lseek SEEK_DATA / SEEK_HOLE through kvmclone's native addon
 * (fd-calls.ts: Node has no SEEK_DATA; 0.1 ms per GiB); the guest layer from
 * `qemu-img map`.
 */
import type { FileHandle } from 'node:fs/promises';
import { isAllZero } from '../../shared/block-hash.js';
import { qemuImgMap, type QemuImgOptions } from '../images/qemu-img.js';
import { seek, SEEK } from '../native/fd-calls.js';
import { BufferPool } from './buffer-pool.js';
import { READ_AHEAD_DEPTH, readAhead } from './read-ahead.js';
import { planReads } from './read-plan.js';
import { ZERO_BLOCK_BYTES } from './request-limits.js';

/** data: must be read; hole: unallocated, reads as zeros; zero: allocated but all zero. */
export type ExtentKind = 'data' | 'hole' | 'zero';

/** A run of one kind, [offset, offset + length). */
export interface Extent {
  readonly offset: number;
  readonly length: number;
  readonly kind: ExtentKind;
}

/**
 * Data and hole extents of [start, end) of an open file, in order, alternating.
 * Filesystems without hole support report everything as data, which is
 * correct, only slower.
 */
export async function* fileExtents(fd: number, start: number, end: number): AsyncGenerator<Extent> {
  let pos = start;
  while (pos < end) {
    // Synchronous on purpose: answered from the extent tree in microseconds, where an async lseek on the
    // threadpool cost ~60 µs of CPU a call (fs-ext's, measured as 1.4 CPU-s of a 2 GiB clone's source).
    const data = seek(fd, pos, SEEK.DATA);
    if (data === null || data >= end) {
      yield { offset: pos, length: end - pos, kind: 'hole' };
      return;
    }
    if (data > pos) yield { offset: pos, length: data - pos, kind: 'hole' };
    const hole = seek(fd, data, SEEK.HOLE) ?? end;
    const stop = Math.min(Math.max(hole, data), end);
    if (stop === data) {
      // The file shrank between the two seeks: what is left reads as zeros.
      yield { offset: data, length: end - data, kind: 'hole' };
      return;
    }
    yield { offset: data, length: stop - data, kind: 'data' };
    pos = stop;
  }
}

/** Merges adjacent extents of one kind (MapExtents promises merged runs). */
export async function* mergeExtents(source: AsyncIterable<Extent> | Iterable<Extent>): AsyncGenerator<Extent> {
  let pending: Extent | undefined;
  for await (const e of source) {
    if (e.length === 0) continue;
    if (pending !== undefined && pending.kind === e.kind && pending.offset + pending.length === e.offset) {
      pending = { offset: pending.offset, length: pending.length + e.length, kind: e.kind };
      continue;
    }
    if (pending !== undefined) yield pending;
    pending = e;
  }
  if (pending !== undefined) yield pending;
}

/**
 * Splits bytes read at `offset` into runs of all-zero and non-zero blocks of
 * the absolute 64 KiB grid (clipped at the buffer's ends), so the same block
 * is judged the same way by every reader.
 */
export function* zeroRuns(data: Buffer, offset: number, block: number = ZERO_BLOCK_BYTES): Generator<{ offset: number; length: number; zero: boolean }> {
  let runStart = 0;
  let runZero: boolean | undefined;
  for (let at = 0; at < data.length;) {
    const next = Math.min(data.length, (Math.floor((offset + at) / block) + 1) * block - offset);
    const zero = isAllZero(data.subarray(at, next));
    if (runZero !== undefined && zero !== runZero) {
      yield { offset: offset + runStart, length: at - runStart, zero: runZero };
      runStart = at;
    }
    runZero = zero;
    at = next;
  }
  if (runZero !== undefined) yield { offset: offset + runStart, length: data.length - runStart, zero: runZero };
}

/** MapExtents' read size for zero detection. */
const DETECT_READ_BYTES = 1024 * 1024;

/** File-layer map of a whole open file; with `detectZeroes`, data is read and all-zero blocks become ZERO. */
export async function* mapFileExtents(fh: FileHandle, size: number, detectZeroes: boolean, signal: AbortSignal): AsyncGenerator<Extent> {
  if (!detectZeroes) {
    yield* mergeExtents(fileExtents(fh.fd, 0, size));
    return;
  }
  async function* classified(): AsyncGenerator<Extent> {
    const pool = new BufferPool(DETECT_READ_BYTES, READ_AHEAD_DEPTH + 1);
    for await (const { item, data, release } of readAhead(fh, planReads(fileExtents(fh.fd, 0, size), 0, size, 1, DETECT_READ_BYTES), signal, READ_AHEAD_DEPTH, pool)) {
      if (data === null) {
        yield { offset: item.offset, length: item.length, kind: 'hole' };
        continue;
      }
      // zeroRuns reads `data` only until each run is found; the runs themselves are plain numbers.
      const runs = [...zeroRuns(data, item.offset)];
      release();
      for (const run of runs) yield { offset: run.offset, length: run.length, kind: run.zero ? 'zero' : 'data' };
    }
  }
  yield* mergeExtents(classified());
}

/**
 * Guest-layer map through the image format (and its backing chain):
 * allocated zeros are ZERO, unallocated zeros HOLE, anything qemu-img cannot
 * vouch for as zero is DATA. The chain is checked and opened link by link
 * with each format stated (qemuImgMap); pass `roots` so every backing file
 * must lie under them, and `format` when the caller knows it.
 */
export async function mapGuestExtents(path: string, signal: AbortSignal, options: QemuImgOptions = {}): Promise<{ size: number; extents: Extent[] }> {
  const runs = await qemuImgMap(path, signal, options);
  const kinds = runs.map((r): Extent => ({ offset: r.offset, length: r.length, kind: r.zero ? (r.data ? 'zero' : 'hole') : 'data' }));
  const extents: Extent[] = [];
  for await (const e of mergeExtents(kinds)) extents.push(e);
  const last = extents[extents.length - 1];
  return { size: last === undefined ? 0 : last.offset + last.length, extents };
}
