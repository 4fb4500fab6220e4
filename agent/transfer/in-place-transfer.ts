/**
 * The state an in-place pull (pull-in-place.ts) carries from stage to stage:
 * what the transfer half holds up to the commit (kept whole for a retry of
 * the same operation, parked-pulls.ts), the call it runs for, and what the
 * journal stage hands the apply stage. Kept apart from the stages so that
 * each of them reads the same shapes without importing one another.
 */
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { dataLoss } from '../../shared/errors.js';
import type { PullImageRequest__Output } from '../../shared/generated/kvmclone/agent/v1/PullImageRequest.js';
import type { PullProgress } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { HashMemory } from '../disk/hash-memory.js';
import type { ByteSpan } from '../disk/request-limits.js';
import { SpanSet } from '../disk/span-set.js';
import type { GuestFormat } from '../guest/guest-client.js';
import type { LibvirtPort } from '../libvirt/libvirt-port.js';
import type { ConfinedDir } from '../paths/confined-dir.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { StreamSink } from '../rpc/handlers.js';
import type { HeaderPlan, HeaderWindow } from './in-place-header.js';
import type { JournalWriter } from './journal-writer.js';
import type { ParkedPulls } from './parked-pulls.js';
import type { PeerSource } from './pull-image.js';

/**
 * Holds the source to exactly the requested ranges: every message must lie
 * inside one, no byte may come twice, and the sum tells when all came.
 */
export class RangeCoverage {
  private readonly seen = new SpanSet();
  covered = 0;

  constructor(private readonly ranges: readonly ByteSpan[]) {}

  /** The parts of the requested ranges not received yet (all of them at first). */
  missingFrom(): ByteSpan[] {
    return this.seen.missingFrom(this.ranges);
  }

  take(offset: number, length: number, what: string): void {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid].offset <= offset) lo = mid + 1;
      else hi = mid;
    }
    const range = this.ranges[lo - 1];
    if (length <= 0 || range === undefined || offset + length > range.offset + range.length || this.seen.overlaps(offset, length)) {
      throw dataLoss(`the source sent ${what} bytes ${offset} to ${offset + length}, which were not asked for (or came twice)`);
    }
    this.seen.add(offset, length);
    this.covered += length;
  }
}

/** What pullInPlace needs; `libvirt` is required when the request names a destination VM. */
export interface PullInPlaceDeps {
  roots: ImageRoots;
  runtimeDir: string;
  log: Logger;
  hashMemory: HashMemory;
  /** Passed through pullImage's deps object by TransferService. */
  libvirt?: Pick<LibvirtPort, 'getDomain'>;
  /** Where a pull cut short by a dropped connection waits for its retry (parked-pulls.ts); none: it is discarded. */
  parked?: ParkedPulls<InPlaceTransfer>;
}

/**
 * The transfer half of an in-place pull, up to the commit: everything a
 * retry of the same operation needs to continue it (parked-pulls.ts).
 */
export interface InPlaceTransfer {
  readonly journal: JournalWriter;
  /** The image, opened once beneath the roots: the journal is bound to its inode. */
  readonly held: FileHandle;
  /** The image's directory, held open beneath the roots (the journal lives there). */
  readonly dir: ConfinedDir;
  readonly target: string;
  /** The image as it was when the journal began. */
  readonly image: BigIntStats;
  /** The size after the apply (the source's file size, or virtual size for the guest layer). */
  readonly size: number;
  /** "file raw", "file qcow2", "guest raw", "guest qcow2": a retry must apply the same way. */
  readonly layer: string;
  readonly ranges: readonly ByteSpan[];
  readonly total: number;
  readonly coverage: RangeCoverage;
  /** A qcow2's first bytes, held back until the end (in-place-header.ts). */
  readonly window: HeaderWindow | undefined;
  /** With keep_points: the id of the restore point this pull keeps (in the journal's header from the start). */
  readonly pointId: bigint | undefined;
}

/** Releases a transfer that will not be committed: journal discarded, descriptors closed; the image was never touched. */
export async function dropTransfer(t: InPlaceTransfer): Promise<void> {
  await t.journal.discard();
  await t.held.close().catch(() => undefined);
  t.dir.close();
}

/** One in-place pull call with its transfer opened: what every stage after the open reads. */
export interface InPlaceCall {
  readonly req: PullImageRequest__Output;
  readonly deps: PullInPlaceDeps;
  readonly send: StreamSink<PullProgress>;
  readonly signal: AbortSignal;
  /** Set for a GUEST-layer pull (pull-guest.ts): the image's format, which the source's offsets go through. */
  readonly guest: { readonly format: GuestFormat } | undefined;
  readonly source: PeerSource;
  readonly t: InPlaceTransfer;
  /** The pull's logger, naming the target and its journal. */
  readonly log: Logger;
  /** keep_points, checked (0: no restore point is kept). */
  readonly keep: number;
}

/**
 * What the journal stage leaves for the stages after it: whether a journal
 * write is under way (a failure then is never parked), the source's wire
 * bytes so far, and the header plan of a qcow2 FILE-layer pull.
 */
export interface JournalRun {
  writing: boolean;
  transferred: number;
  header: HeaderPlan | undefined;
}
