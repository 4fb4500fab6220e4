/**
 * PullImage in PULL_MODE_IN_PLACE: a sync applied to the existing image so
 * that a crash leaves either the old image or (after replay) the new one,
 * never a mix (ARCHITECTURE, safety model).
 *
 * The changed ranges stream from the source agent into a journal beside the
 * image ("transfer"); only once every byte is in, checked and fdatasynced
 * does the commit trailer go down, and only then is the image touched
 * ("apply"). A cancel or failure before the commit removes the journal and
 * leaves the image as it was; after the commit the sync is decided: a cancel
 * no longer stops the apply, and a failure during it leaves the journal for
 * recovery (journal-recovery.ts), which finishes the job at the next pull
 * into the image or the next agent start.
 *
 * With `guest` (PullImage layer GUEST, a live copy: pull-guest.ts) the
 * source speaks guest offsets and the image keeps its format: the journal
 * says so in its header, the apply writes through qemu-nbd, the size is the
 * source's virtual size, and the digest is of what the guest sees.
 *
 * With `dest_vm` the image is that VM's disk, and the VM must be shut off:
 * it is checked through libvirt before the transfer and again right before
 * the commit (the last moment the journal can still be dropped), so a VM
 * started during the transfer never has its disk rewritten under it — the
 * journal is discarded and the call fails with FAILED_PRECONDITION.
 *
 * A FILE-layer pull into a qcow2 image (the request's `format`, or the
 * target's magic for older controllers) holds back whatever falls in the
 * image's first 2 MiB: the header the apply would leave is put together,
 * kept on the destination's backing chain and checked before the journal
 * commits (in-place-header.ts); a header naming anything unexpected is
 * refused with the journal discarded and the image untouched.
 */
import type { PullImageRequest__Output } from '../../shared/generated/kvmclone/agent/v1/PullImageRequest.js';
import type { PullProgress } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import { invalidArgument } from '../../shared/errors.js';
import { checkVmName } from '../../shared/validation.js';
import type { GuestFormat } from '../guest/guest-client.js';
import type { StreamSink } from '../rpc/handlers.js';
import { requireDestShutOff } from './dest-vm-state.js';
import { applyAndReport } from './in-place-apply.js';
import { fillJournal, parkOrDiscard } from './in-place-journal.js';
import { openTransfer } from './in-place-open.js';
import type { InPlaceCall, InPlaceTransfer, JournalRun, PullInPlaceDeps } from './in-place-transfer.js';
import { dialPeer } from './pull-image.js';
import { checkKeepPoints } from './pull-point.js';

/**
 * Refuses a request an in-place pull cannot carry out before anything is
 * opened or dialled, and a destination VM that is not shut off; returns keep_points.
 */
async function checkInPlaceRequest(
  req: PullImageRequest__Output,
  deps: PullInPlaceDeps,
  signal: AbortSignal,
  guest: { readonly format: GuestFormat } | undefined,
): Promise<number> {
  if (req.stagingId !== '') throw invalidArgument('staging_id: an in-place pull writes into the existing image; staging_id must be empty');
  if (req.digestRanges && guest === undefined) throw invalidArgument('digest_ranges: only a GUEST-layer in-place pull digests by ranges');
  if (req.destVm) checkVmName(req.destVm, 'dest_vm');
  const keep = checkKeepPoints(req);
  await requireDestShutOff(req, deps, signal, 'before the transfer');
  return keep;
}

/**
 * Runs one in-place pull: recovery, transfer into the journal, commit,
 * apply, digest. The stages: openTransfer (in-place-open.ts), fillJournal
 * up to the commit (in-place-journal.ts), applyAndReport after it
 * (in-place-apply.ts). A failure before the commit parks the transfer or
 * discards the journal; the held image and directory are released here
 * unless parked, and the source is always closed.
 */
export async function pullInPlace(
  req: PullImageRequest__Output,
  deps: PullInPlaceDeps,
  send: StreamSink<PullProgress>,
  signal: AbortSignal,
  guest?: { readonly format: GuestFormat },
): Promise<void> {
  const keep = await checkInPlaceRequest(req, deps, signal, guest);
  const source = dialPeer(req, deps.runtimeDir);
  let t: InPlaceTransfer;
  try {
    t = await openTransfer(req, deps, source, keep, signal, guest);
  } catch (err) {
    source.close();
    throw err;
  }
  const log = deps.log.child({ target: t.target, journal: t.journal.path });
  const c: InPlaceCall = { req, deps, send, signal, guest, source, t, log, keep };
  const run: JournalRun = { writing: false, transferred: 0, header: undefined };
  let parked = false;
  try {
    try {
      await fillJournal(c, run);
    } catch (err) {
      parked = await parkOrDiscard(c, err, run.writing);
      throw signal.aborted ? (signal.reason ?? err) : err;
    }
    await applyAndReport(c, run);
  } finally {
    if (!parked) {
      await t.held.close();
      t.dir.close();
    }
    source.close();
  }
}
