/**
 * What the DiskService integration tests (disk-service-*.test.ts) share: a
 * DiskHarness (../disk-harness.ts) started before a file's tests and closed
 * after them, and a ReadRanges → WriteRanges copy that records what came over
 * the wire, with the check of such a stream.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { chunkHash, gridPieceHashes } from '../../../shared/block-hash.js';
import type { ReadRangesResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import type { WriteRangesRequest } from '../../../shared/generated/kvmclone/agent/v1/WriteRangesRequest.js';
import { startDiskHarness, writeAll, type DiskHarness } from '../disk-harness.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/**
 * A DiskHarness for the calling test file: started before its tests, then `prepare` run (one hook: Node 20 runs a
 * file's top-level before hooks concurrently), closed after them; its fields are the running harness's.
 */
export function useDiskHarness(prepare?: (harness: DiskHarness) => Promise<void>): DiskHarness {
  let running: DiskHarness | undefined;
  before(async () => {
    running = await startDiskHarness();
    await prepare?.(running);
  });
  after(async () => {
    await running?.close();
  });
  const h = (): DiskHarness => running ?? assert.fail('the disk harness starts before the tests');
  const live = {
    newClient: (options) => h().newClient(options),
    close: () => h().close(),
  } as DiskHarness;
  // Each field reads the running harness's when a test asks for it, not when the file is loaded.
  for (const field of ['dir', 'root', 'outside', 'address', 'client', 'writer'] as const) Object.defineProperty(live, field, { get: () => h()[field], enumerable: true });
  return live;
}

/** One ReadRanges message as the copy saw it (bytes dropped, hash checked). */
export interface Seen {
  kind: 'data' | 'zero';
  offset: number;
  length: number;
  hashOk: boolean;
}

/** ReadRanges of `source` piped into WriteRanges of `target` on harness `h`, with backpressure on both sides. */
export async function copyThrough(h: DiskHarness, source: string, target: string, chunkSize = 0, blockHashes = false): Promise<{ seen: Seen[]; stagingId: string }> {
  const size = (await stat(source)).size;
  const seen: Seen[] = [];
  async function* requests(): AsyncGenerator<WriteRangesRequest> {
    yield { open: { targetPath: target, size } };
    for await (const m of h.client.ReadRanges({ path: source, chunkSize, blockHashes })) {
      const msg = m as ReadRangesResponse__Output;
      if (msg.payload === 'data' && msg.data) {
        const { offset, data, hash } = msg.data;
        // Asked for block hashes, a chunk carries those and no chunk hash; otherwise the reverse.
        const hashOk = blockHashes
          ? hash.length === 0 && gridPieceHashes(offset, data).equals(msg.data.blockHashes)
          : msg.data.blockHashes.length === 0 && chunkHash(data).equals(hash);
        seen.push({ kind: 'data', offset, length: data.length, hashOk });
        yield { data: msg.data };
      } else if (msg.payload === 'zero' && msg.zero) {
        seen.push({ kind: 'zero', offset: msg.zero.offset, length: msg.zero.length, hashOk: true });
        yield { zero: msg.zero };
      } else {
        assert.fail(`a ReadRanges message without payload: ${JSON.stringify(msg)}`);
      }
    }
  }
  const res = await writeAll(h.writer, requests());
  return { seen, stagingId: res.stagingId };
}

/** Checks a ReadRanges stream: covers [0, size) in order, zero runs merged, chunks bounded and hashed; returns data bytes. */
export function checkStream(seen: Seen[], size: number, chunkSize: number): number {
  let at = 0;
  let previous: Seen['kind'] | undefined;
  let dataBytes = 0;
  for (const m of seen) {
    assert.equal(m.offset, at, 'messages are contiguous and in order');
    assert.ok(m.length > 0);
    if (m.kind === 'zero') assert.notEqual(previous, 'zero', 'adjacent zero ranges are merged');
    if (m.kind === 'data') {
      assert.ok(m.length <= chunkSize, `a ${m.length}-byte chunk exceeds ${chunkSize}`);
      assert.ok(m.hashOk, `chunk at ${m.offset} carries a wrong hash`);
      dataBytes += m.length;
    }
    previous = m.kind;
    at += m.length;
  }
  assert.equal(at, size);
  return dataBytes;
}
