/**
 * HashBlocks of one file on one host as an async stream of batches, with the
 * call cancelled when the signal aborts or the consumer stops early.
 */
import type { HashBlocksResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/HashBlocksResponse.js';
import { fromStatus } from '../../../shared/from-status.js';
import { DEFAULT_BLOCK_SIZE } from '../../../shared/block-hash.js';
import type { HostSession } from '../../transport/host-session.js';
import type { HashBatch } from './block-diff.js';

/**
 * Streams the 64 KiB block hashes of `path` on `session`'s host; `onBatch` sees each batch (progress).
 * `guest`: hash what the guest sees (a live view, or an image read through its format) instead of the file.
 * `offset` (a multiple of the block size): start there, to continue an interrupted comparison.
 */
export async function* hashStream(session: HostSession, path: string, signal: AbortSignal, onBatch?: (b: HashBatch) => void, guest = false, offset = 0): AsyncGenerator<HashBatch> {
  const call = session.clients.disk.hashBlocks({
    path,
    blockSize: DEFAULT_BLOCK_SIZE,
    offset,
    length: 0,
    batchBlocks: 4096,
    layer: guest ? 'EXTENT_LAYER_GUEST' : 'EXTENT_LAYER_FILE',
  });
  const onAbort = (): void => call.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const raw of call as AsyncIterable<HashBlocksResponse__Output>) {
      const batch = { offset: raw.offset, blockSize: raw.blockSize, blockCount: raw.blockCount, hashes: raw.hashes, fileSize: raw.fileSize };
      onBatch?.(batch);
      yield batch;
    }
  } catch (err) {
    throw fromStatus(err, session.host);
  } finally {
    signal.removeEventListener('abort', onAbort);
    call.cancel();
  }
}
