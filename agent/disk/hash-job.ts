/**
 * The messages between the agent and its hashing worker threads
 * (hash-worker.ts runs jobs, hash-workers.ts hands them out). Kept in one
 * file so both sides agree on the shapes.
 */

/** One span of one open file to hash: [start, end) on block boundaries (end may be the file's end). */
export interface HashJob {
  readonly type: 'hash';
  /** The agent's open descriptor: worker threads share the process's file table. */
  readonly fd: number;
  readonly start: number;
  readonly end: number;
  /**
   * The data extents of [start, end) as (offset, length) pairs, in order:
   * found by the agent, which walks the extents as it plans the jobs;
   * everything else reads as zeros.
   */
  readonly dataExtents: Float64Array;
  readonly blockSize: number;
  /** Blocks per posted batch. */
  readonly batchBlocks: number;
  /** One Int32; the agent stores 1 to stop the job between two reads. */
  readonly stop: SharedArrayBuffer;
}

/** Consecutive block hashes (blockCount × 16 bytes), in order. */
export interface HashJobBatch {
  readonly type: 'batch';
  readonly offset: number;
  readonly blockCount: number;
  readonly hashes: Uint8Array;
}

/** The failure of a job, carried across the thread boundary by its code. */
export interface HashJobFailure {
  /** A kvmclone error code (FAILED_PRECONDITION …) or a Node errno code (EIO …). */
  readonly code: string | undefined;
  readonly kvmclone: boolean;
  readonly message: string;
}

/** The last message of a job: finished, stopped on request, or failed (`failure`). */
export interface HashJobEnd {
  readonly type: 'end';
  readonly failure?: HashJobFailure;
}

/** What a worker posts. */
export type HashJobMessage = HashJobBatch | HashJobEnd;
