/**
 * The audit file writer. One file opened O_APPEND (never O_TRUNC), records
 * appended as whole lines and fsynced before `append` resolves, so a call's
 * answer can wait for its record to be on disk. Appends that arrive while a
 * write is in flight are written together (one write, one fsync for the
 * batch): records stay whole lines, in the order they were appended.
 *
 * Rotation is by size and by renaming only: when the next batch would take
 * the file past `maxBytes`, it is renamed to `audit.log.<UTC time>` and a new
 * file is started; the agent never truncates or rewrites a file. With `keep`
 * set to a number, the oldest rotated files beyond it are deleted; with
 * `keep: 'all'` nothing is ever deleted (shipping them away is the
 * operator's part).
 *
 * If a write or fsync fails, the bytes not yet in the file are kept in memory
 * and the trail is broken: `admit` refuses (UNAVAILABLE) every mutating call
 * until a retry (at most once a second, on the next call) writes them, so
 * the agent never goes on changing things without a record.
 */
import { constants } from 'node:fs';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { messageOf, unavailable } from '../../shared/errors.js';
import { recordLine, type AuditRecord } from './audit-record.js';
import { syncDirectory } from '../paths/sync-directory.js';
import { freeRotatedName, rotatedFiles } from './audit-files.js';

/** How the writer is set up (compiled from agent.yaml's `audit` section). */
export interface AuditLogOptions {
  /** Absolute path of the live file. */
  readonly file: string;
  /** Size past which the file is rotated before the next write. */
  readonly maxBytes: number;
  /** Rotated files kept (the oldest beyond are deleted), or 'all'. */
  readonly keep: number | 'all';
  readonly log: Logger;
}

/** Counters, for tests and for measuring what the trail costs. */
export interface AuditLogStats {
  records: number;
  writes: number;
  syncs: number;
  rotations: number;
  failures: number;
}

/** Shortest time between two attempts to write a broken trail again. */
export const AUDIT_RETRY_MS = 1000;

const OPEN_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW; // libuv adds O_CLOEXEC itself

interface Pending {
  readonly line: string;
  resolve(): void;
  reject(err: unknown): void;
}

/** An open audit trail. */
export class AuditLog {
  readonly stats: AuditLogStats = { records: 0, writes: 0, syncs: 0, rotations: 0, failures: 0 };
  private fh: FileHandle | undefined;
  private size = 0;
  /** Bytes appended but not yet written (the rest of a failed write, or "\n" ending a torn line). */
  private owed: Buffer = Buffer.alloc(0);
  /** Whether the file (as written so far) ends at a line boundary: rotation waits for one. */
  private atLineEnd = true;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private brokenBy: unknown;
  private lastAttempt = 0;
  private closed = false;

  private constructor(readonly options: AuditLogOptions) {}

  /** Opens (creating it and its directory when missing) the live file; throws when it cannot be written. */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const trail = new AuditLog(options);
    await mkdir(dirname(options.file), { recursive: true, mode: 0o750 });
    await trail.reopen();
    return trail;
  }

  /** The live file's path. */
  get file(): string {
    return this.options.file;
  }

  /** Why the trail cannot be written right now, or undefined when it can. */
  get failure(): unknown {
    return this.brokenBy;
  }

  /**
   * Lets a mutating call run, or refuses it with UNAVAILABLE while the trail
   * is broken. A broken trail is retried first (at most once a second).
   */
  async admit(): Promise<void> {
    if (this.brokenBy === undefined) return;
    if (Date.now() - this.lastAttempt >= AUDIT_RETRY_MS) await this.enqueue('').catch(() => undefined);
    if (this.brokenBy !== undefined) {
      const reason = messageOf(this.brokenBy);
      throw unavailable(`the audit trail ${this.options.file} cannot be written (${reason}): this agent refuses calls that change anything until it can`);
    }
  }

  /** Appends one record; resolves once it is written and fsynced, rejects when it could not be (it is then kept for the retry). */
  append(record: AuditRecord): Promise<void> {
    return this.enqueue(recordLine(record)).then(() => {
      this.stats.records++;
    });
  }

  /** Waits for queued records, then closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.fh?.close();
    this.fh = undefined;
  }

  private enqueue(line: string): Promise<void> {
    if (this.closed) return Promise.reject(unavailable('the audit trail is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.flushing !== undefined) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      this.owed = Buffer.concat([this.owed, Buffer.from(batch.map((p) => p.line).join(''), 'utf8')]);
      this.lastAttempt = Date.now();
      try {
        await this.writeOwed();
        if (this.brokenBy !== undefined) this.options.log.warn({ file: this.options.file }, 'the audit trail can be written again');
        this.brokenBy = undefined;
        for (const p of batch) p.resolve();
      } catch (err) {
        if (this.brokenBy === undefined)
          this.options.log.error(
            { err, file: this.options.file, owedBytes: this.owed.length },
            'the audit trail cannot be written: calls that change anything are refused until it can',
          );
        this.brokenBy = err;
        this.stats.failures++;
        for (const p of batch) p.reject(err);
      }
    }
  }

  /** Writes every owed byte (rotating first when due and at a line boundary), then fsyncs. */
  private async writeOwed(): Promise<void> {
    if (this.fh === undefined) await this.reopen();
    if (this.atLineEnd && this.size > 0 && this.size + this.owed.length > this.options.maxBytes) await this.rotate();
    const fh = this.fh as FileHandle;
    while (this.owed.length > 0) {
      // No position: O_APPEND puts every write at the end, whoever else appends.
      const { bytesWritten } = await fh.write(this.owed, 0, this.owed.length);
      this.stats.writes++;
      if (bytesWritten > 0) this.atLineEnd = this.owed[bytesWritten - 1] === 0x0a;
      this.size += bytesWritten;
      this.owed = this.owed.subarray(bytesWritten);
    }
    await fh.sync();
    this.stats.syncs++;
  }

  /** Opens the live file for appending; a torn last line (a crash mid-write) is ended before the next record. */
  private async reopen(): Promise<void> {
    const fh = await open(this.options.file, OPEN_FLAGS, 0o600);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Error(`${this.options.file} is not a regular file`);
      this.size = st.size;
      // A last line without its newline that this writer did not leave (a crash mid-write) is ended first.
      if (st.size > 0 && this.atLineEnd) {
        const last = Buffer.alloc(1);
        const reader = await open(this.options.file, constants.O_RDONLY | constants.O_NOFOLLOW);
        try {
          await reader.read(last, 0, 1, st.size - 1);
        } finally {
          await reader.close();
        }
        if (last[0] !== 0x0a) {
          this.owed = Buffer.concat([Buffer.from('\n'), this.owed]);
          this.atLineEnd = false;
        }
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    this.fh = fh;
  }

  /** Renames the live file aside (its records are already fsynced) and starts a new one. */
  private async rotate(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    const rotated = await freeRotatedName(this.options.file, new Date());
    await rename(this.options.file, rotated);
    this.stats.rotations++;
    await this.reopen();
    await syncDirectory(dirname(this.options.file));
    this.options.log.info({ file: this.options.file, rotated }, 'audit trail rotated');
    await this.prune();
  }

  /** Deletes the oldest rotated files beyond `keep`. A failure here is logged, never fatal: nothing is lost by keeping more. */
  private async prune(): Promise<void> {
    if (this.options.keep === 'all') return;
    try {
      const rotated = await rotatedFiles(this.options.file);
      for (const old of rotated.slice(0, Math.max(0, rotated.length - this.options.keep))) {
        await unlink(old);
        this.options.log.info({ removed: old, keep: this.options.keep }, 'oldest rotated audit file removed');
      }
    } catch (err) {
      this.options.log.warn({ err, file: this.options.file }, 'could not remove old rotated audit files');
    }
  }
}
