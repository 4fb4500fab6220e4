/**
 * WriteRanges: chunks into a sparse staging file beside the target.
 *
 * Nothing half-made is left behind: a staging file this call created is
 * removed on any failure or cancel, while one reopened to resume an earlier
 * write is kept (it holds that earlier progress). Every chunk's hash is
 * checked before it touches the disk. A few writes stay in flight while the
 * next message is verified, and the call ends with fdatasync, so its response
 * is a durable checkpoint a resumed transfer can trust.
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { errnoCode, failedPrecondition, invalidArgument, outOfRange } from '../../shared/errors.js';
import type { DataChunk__Output } from '../../shared/generated/kvmclone/agent/v1/DataChunk.js';
import type { WriteOpen__Output } from '../../shared/generated/kvmclone/agent/v1/WriteOpen.js';
import type { WriteRangesRequest__Output } from '../../shared/generated/kvmclone/agent/v1/WriteRangesRequest.js';
import type { WriteRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/WriteRangesResponse.js';
import { checkId } from '../../shared/validation.js';
import { FALLOC, fallocate } from '../native/fd-calls.js';
import { refuseHardLinked } from '../paths/hard-links.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { openParent, type OpenedParent } from '../paths/open-beneath.js';
import { checkChunk } from './chunk-check.js';
import { OrderedWrites, writeFully } from './ordered-writes.js';
import { DropBehind } from './page-cache.js';
import { checkByteCount, checkImageSize, checkSpan } from './request-limits.js';
import { SpanSet } from './span-set.js';
import { lockExclusive, openStagingIn, stagingNameFor } from './staging-file.js';
import { currentOperationId } from '../leftovers/call-operation.js';
import { recordOperation } from '../leftovers/operation-xattr.js';

/**
 * Writes in flight while the next message is checked. One: buffered writes to
 * one file serialize on its inode lock, and measured on the testbed, four in
 * flight only had the threadpool spinning on that lock (rwsem_spin_on_owner)
 * for no more throughput.
 */
const WRITE_DEPTH = 1;

/** Source of zeros when a filesystem cannot punch holes. */
const ZEROES = Buffer.alloc(1024 * 1024);

/** An open staging file and what this call has done to it. */
class StagingSession {
  /** Writes to overlapping bytes land in arrival order. */
  private readonly writes: OrderedWrites;
  /** What this call writes is kept out of the host's page cache (page-cache.ts). */
  private readonly dropBehind: DropBehind;
  private readonly written = new SpanSet();
  readonly totals: WriteRangesResponse__Output;

  readonly path: string;

  private constructor(
    private readonly fh: FileHandle,
    /** The target's directory, held open: the staging file is removed through it, never by path. */
    private readonly parent: OpenedParent,
    private readonly name: string,
    readonly id: string,
    readonly size: number,
    /** Created by this call: holes are still holes, and failure removes it. */
    readonly created: boolean,
  ) {
    this.path = parent.dir.pathOf(name);
    this.totals = { stagingId: id, stagingPath: this.path, bytesWritten: 0, chunksWritten: 0, zeroBytes: 0 };
    this.writes = new OrderedWrites(fh, WRITE_DEPTH);
    this.dropBehind = new DropBehind(fh.fd);
  }

  /**
   * Creates (empty staging_id) or reopens (resume) the staging file of an
   * open message, in the target's directory opened once beneath the roots.
   */
  static async open(request: WriteOpen__Output, roots: ImageRoots): Promise<StagingSession> {
    const size = checkImageSize(request.size);
    const resumeId = request.stagingId === '' ? undefined : checkId(request.stagingId, 'open.staging_id');
    const parent = await openParent(roots, request.targetPath, 'open.target_path');
    try {
      // An existing target is allowed here (a commit with replace overwrites it) but must be a file of its own.
      const existing = parent.dir.entry(parent.name);
      if (existing !== undefined && !existing.isFile()) throw failedPrecondition(`open.target_path: ${parent.path} exists and is not a regular file`);
      if (existing !== undefined) refuseHardLinked(existing.nlink, parent.path, 'open.target_path', 'write into');
      if (resumeId !== undefined) {
        const name = stagingNameFor(parent.name, resumeId);
        const fh = await openStagingIn(parent, resumeId, constants.O_WRONLY);
        const actual = (await fh.stat()).size;
        if (actual !== size) {
          await fh.close();
          throw failedPrecondition(`open.size: staging file ${resumeId} is ${actual} bytes but the resumed write declares ${size}`);
        }
        // A resumed staging file now belongs to the operation resuming it (a rerun has a new id).
        recordOperation(fh, currentOperationId());
        return new StagingSession(fh, parent, name, resumeId, size, false);
      }
      const id = randomUUID();
      const name = stagingNameFor(parent.name, id);
      const fh = await parent.dir.createFile(name, constants.O_WRONLY, 0o600);
      try {
        await lockExclusive(fh, `staging file ${id}`);
        // Names the operation, so a leftover staging file can be traced to it (kvmctl hosts check, gc).
        recordOperation(fh, currentOperationId());
        await fh.truncate(size);
      } catch (err) {
        await fh.close();
        try {
          parent.dir.unlink(name);
        } catch {
          // already gone
        }
        throw err;
      }
      return new StagingSession(fh, parent, name, id, size, true);
    } catch (err) {
      parent.dir.close();
      throw err;
    }
  }

  /** Applies one message after the open. */
  async apply(message: WriteRangesRequest__Output): Promise<void> {
    if (message.payload === 'data' && message.data) return this.writeChunk(message.data);
    if (message.payload === 'zero' && message.zero) return this.zeroRange(message.zero.offset, message.zero.length);
    if (message.payload === 'open') throw invalidArgument('open: the stream already has its open message; a second one is not allowed');
    throw invalidArgument('payload: a message after open must carry data or zero');
  }

  private async writeChunk(chunk: DataChunk__Output): Promise<void> {
    const { data } = chunk;
    const offset = checkByteCount(chunk.offset, 'data.offset');
    if (data.length === 0) throw invalidArgument(`data.data: the chunk at offset ${offset} is empty`);
    if (offset + data.length > this.size) {
      throw outOfRange(`data: bytes ${offset} to ${offset + data.length} lie past the declared image size (${this.size} bytes)`);
    }
    checkChunk({ offset, data, hash: chunk.hash, blockHashes: chunk.blockHashes });
    await this.writes.write(data, offset);
    this.dropBehind.wrote(data.length);
    if (this.created) this.written.add(offset, data.length);
    this.totals.bytesWritten += data.length;
    this.totals.chunksWritten += 1;
  }

  private async zeroRange(rawOffset: number, rawLength: number): Promise<void> {
    const { offset, length } = checkSpan({ offset: rawOffset, length: rawLength }, this.size, 'zero');
    this.totals.zeroBytes += length;
    // A new file is all holes except what this stream wrote.
    if (this.created && !this.written.overlaps(offset, length)) return;
    await this.writes.drain();
    try {
      // On the descriptor: no path is looked up again (issue 10, hole 4).
      fallocate(this.fh.fd, FALLOC.PUNCH_HOLE | FALLOC.KEEP_SIZE, offset, length);
    } catch (err) {
      // A filesystem without hole punching still gets the zeros, written out.
      if (errnoCode(err) !== 'EOPNOTSUPP') throw err;
      for (let at = offset; at < offset + length; at += ZEROES.length) {
        await writeFully(this.fh, ZEROES.subarray(0, Math.min(ZEROES.length, offset + length - at)), at);
      }
    }
  }

  /** Ends a successful stream: all writes done and on disk, file closed (lock released). */
  async finish(): Promise<void> {
    await this.writes.drain();
    await this.fh.datasync();
    await this.fh.close();
  }

  /** Stops; a file this call created is removed unless `keep` (its owner was told its id and removes or resumes it). */
  async fail(keep = false): Promise<void> {
    await this.writes.settle();
    await this.fh.close().catch(() => undefined);
    try {
      if (this.created && !keep) this.parent.dir.unlink(this.name);
    } catch {
      // already gone
    }
  }

  /** Closes the target's directory; after finish or fail. */
  release(): void {
    this.parent.dir.close();
  }
}

/**
 * Runs one WriteRanges stream: the first message must be `open`, then data
 * chunks and zero ranges in any order (writes are idempotent by offset).
 */
export async function writeRanges(
  messages: AsyncIterable<WriteRangesRequest__Output>,
  roots: ImageRoots,
  signal: AbortSignal,
  /**
   * Called once the staging file exists, before any byte is written. When it
   * resolves, the caller owns the file: a failure or cancel after that keeps
   * it (with what arrived) for the caller to resume or remove. PullImage uses
   * this so a controller that dies mid-clone can resume; plain WriteRanges
   * has no onOpen and removes its new file on any failure.
   */
  onOpen?: (staging: { id: string; path: string }) => Promise<void>,
): Promise<WriteRangesResponse__Output> {
  const stream = messages[Symbol.asyncIterator]();
  const first = await stream.next();
  if (first.done === true) throw invalidArgument('open: the stream ended before its open message');
  if (first.value.payload !== 'open' || !first.value.open) throw invalidArgument('open: the first message of WriteRanges must be open');
  const session = await StagingSession.open(first.value.open, roots);
  let announced = false;
  try {
    if (onOpen) {
      await onOpen({ id: session.id, path: session.path });
      announced = true;
    }
    for (;;) {
      signal.throwIfAborted();
      const next = await stream.next();
      if (next.done === true) break;
      await session.apply(next.value);
    }
    await session.finish();
    // grpc-js reports a client's cancel first as the end of the stream and only
    // a moment later as a cancel: look again after the final sync, so a
    // cancelled write is removed rather than kept as if it had completed.
    signal.throwIfAborted();
    return session.totals;
  } catch (err) {
    await session.fail(announced);
    throw err;
  } finally {
    session.release();
  }
}
