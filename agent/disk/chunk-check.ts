/**
 * The check every received DataChunk passes before its bytes are written:
 * against its chunk hash, or — when the reader asked ReadRanges for them —
 * against its per-piece block hashes (proto: DataChunk.block_hashes).
 */
import { chunkHash, gridPieceCount, gridPieceHashes, HASH_BYTES } from '../../shared/block-hash.js';
import { dataLoss, invalidArgument } from '../../shared/errors.js';

/** What a chunk carries to be checked by (the generated DataChunk fits). */
export interface HashedChunk {
  readonly offset: number;
  readonly data: Buffer;
  readonly hash: Buffer;
  readonly blockHashes: Buffer;
}

/**
 * Throws unless `chunk`'s bytes match what it says they are: INVALID_ARGUMENT
 * when the hashes are malformed (neither or both kinds, wrong length),
 * DATA_LOSS when the bytes were damaged on the way. Returns the block hashes
 * when the chunk carried them (checked), so a digest can use them.
 */
export function checkChunk(chunk: HashedChunk): Buffer | undefined {
  const { offset, data, hash, blockHashes } = chunk;
  if (blockHashes.length === 0) {
    if (hash.length !== HASH_BYTES) throw invalidArgument(`data.hash: the chunk at offset ${offset} has a ${hash.length}-byte hash, not ${HASH_BYTES}`);
    if (!chunkHash(data).equals(hash)) throw dataLoss(`data: the chunk at offset ${offset} (${data.length} bytes) does not match its hash; it was damaged on the way`);
    return undefined;
  }
  if (hash.length !== 0) throw invalidArgument(`data: the chunk at offset ${offset} carries both hash and block_hashes; it must carry one`);
  const pieces = gridPieceCount(offset, data.length);
  if (blockHashes.length !== pieces * HASH_BYTES) {
    throw invalidArgument(
      `data.block_hashes: the chunk at offset ${offset} covers ${pieces} block piece(s) but carries ${blockHashes.length} bytes of hashes, not ${pieces * HASH_BYTES}`,
    );
  }
  if (!gridPieceHashes(offset, data).equals(blockHashes))
    throw dataLoss(`data: the chunk at offset ${offset} (${data.length} bytes) does not match its block hashes; it was damaged on the way`);
  return blockHashes;
}
