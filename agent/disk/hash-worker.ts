/**
 * Worker thread that reads and hashes an image's blocks.
 *
 * Why a thread, and why synchronous reads: reading 256 KiB at a time on the
 * thread that hashes leaves the bytes in that core's cache when blake3 reads
 * them, where 2 MiB reads by the threadpool land them in another core's cache
 * (or none). Measured on the testbed, reading and hashing 2 GiB of warm
 * image: 0.84 CPU-s with 2 MiB reads, 0.64 with 256 KiB; threadpool reads of
 * 256 KiB cost more (0.97), not less. A synchronous read would stall the
 * agent's event loop on a cold disk, so it happens here and the main thread
 * only receives the hashes. On a cold disk one small read at a time would
 * leave the disk idle between them, so the kernel is asked for the next MiB
 * ahead (page-cache.ts DataPrefetch).
 */
import { readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { blockHash, HASH_BYTES, ZERO_HASH } from '../../shared/block-hash.js';
import { errnoCode, KvmcloneError } from '../../shared/errors.js';
import type { Extent } from './extent-map.js';
import type { HashJob, HashJobEnd, HashJobMessage } from './hash-job.js';
import { DataPrefetch } from './page-cache.js';
import { fileShrank } from './read-ahead.js';
import { planReads } from './read-plan.js';
// page-cache.ts loads kvmclone's native addon here too: it is context-aware, so safe in a worker thread
// (checked by hash-workers.test.ts and fd-calls.test.ts).

/** Bytes per read: about one core's L2 cache (see above). */
const WORKER_READ_BYTES = 256 * 1024;

/** Reads exactly `length` bytes at `position` into `into`; a short read means the file shrank. */
function readFully(fd: number, into: Buffer, length: number, position: number): void {
  let filled = 0;
  while (filled < length) {
    const n = readSync(fd, into, filled, length - filled, position + filled);
    if (n === 0) throw fileShrank(position, length, filled);
    filled += n;
  }
}

/** The (offset, length) pairs of a job as data extents. */
function* dataExtents(pairs: Float64Array): Generator<Extent> {
  for (let i = 0; i + 1 < pairs.length; i += 2) yield { offset: pairs[i], length: pairs[i + 1], kind: 'data' };
}

/** Runs one job, posting its batches; resolves with the job's end (never rejects). */
async function run(job: HashJob, post: (m: HashJobMessage, transfer?: ArrayBuffer[]) => void): Promise<HashJobEnd> {
  const stop = new Int32Array(job.stop);
  const readSize = Math.max(job.blockSize, WORKER_READ_BYTES);
  const buffer = Buffer.allocUnsafeSlow(readSize);
  let batch = new Uint8Array(job.batchBlocks * HASH_BYTES);
  let batchOffset = job.start;
  let count = 0;
  // Small synchronous reads keep one request in flight; the kernel is asked for the next MiB ahead of them.
  const prefetch = new DataPrefetch(job.fd, job.dataExtents);
  let readBytes = 0;
  const flush = (): void => {
    const hashes = count === job.batchBlocks ? batch : batch.slice(0, count * HASH_BYTES);
    post({ type: 'batch', offset: batchOffset, blockCount: count, hashes }, [hashes.buffer]);
    batchOffset += count * job.blockSize;
    batch = new Uint8Array(job.batchBlocks * HASH_BYTES);
    count = 0;
  };
  try {
    for await (const step of planReads(dataExtents(job.dataExtents), job.start, job.end, job.blockSize, readSize)) {
      if (Atomics.load(stop, 0) !== 0) return { type: 'end' };
      if (step.read) {
        prefetch.keepAhead(readBytes);
        readFully(job.fd, buffer, step.length, step.offset);
        readBytes += step.length;
      }
      // Steps start on block boundaries; only a step ending at the end of the file ends mid-block.
      const blocks = Math.ceil(step.length / job.blockSize);
      for (let i = 0; i < blocks; i += 1) {
        const hash = step.read ? blockHash(buffer.subarray(i * job.blockSize, Math.min(step.length, (i + 1) * job.blockSize))) : ZERO_HASH;
        batch.set(hash, count * HASH_BYTES);
        count += 1;
        if (count === job.batchBlocks) flush();
      }
    }
    if (count > 0) flush();
    return { type: 'end' };
  } catch (err) {
    const kvmclone = err instanceof KvmcloneError;
    return { type: 'end', failure: { code: kvmclone ? err.code : errnoCode(err), kvmclone, message: err instanceof Error ? err.message : String(err) } };
  }
}

const port = parentPort;
if (port !== null) {
  // One job at a time: the pool sends the next only after this one's end.
  port.on('message', (job: HashJob) => {
    void run(job, (m, transfer) => port.postMessage(m, transfer)).then((end) => port.postMessage(end));
  });
}
