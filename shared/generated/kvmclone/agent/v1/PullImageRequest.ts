// Original file: proto/kvmclone/agent/v1/transfer.proto

import type { ByteRange as _kvmclone_agent_v1_ByteRange, ByteRange__Output as _kvmclone_agent_v1_ByteRange__Output } from '../../../kvmclone/agent/v1/ByteRange.js';
import type { PullMode as _kvmclone_agent_v1_PullMode, PullMode__Output as _kvmclone_agent_v1_PullMode__Output } from '../../../kvmclone/agent/v1/PullMode.js';
import type { ExtentLayer as _kvmclone_agent_v1_ExtentLayer, ExtentLayer__Output as _kvmclone_agent_v1_ExtentLayer__Output } from '../../../kvmclone/agent/v1/ExtentLayer.js';
import type { Compress as _kvmclone_agent_v1_Compress, Compress__Output as _kvmclone_agent_v1_Compress__Output } from '../../../kvmclone/agent/v1/Compress.js';
import type { Long } from '@grpc/proto-loader';

export interface PullImageRequest {
  /**
   * Socket on this host that reaches the source agent's peer socket; must be
   * a fresh per-operation path under the agent's runtime directory.
   */
  'peerSocket'?: (string);
  'ticket'?: (string);
  /**
   * Image path on the source host.
   */
  'sourcePath'?: (string);
  /**
   * Final path on this host; the staging file is created beside it.
   */
  'targetPath'?: (string);
  /**
   * Continue an interrupted pull into this staging file; "" starts afresh.
   */
  'stagingId'?: (string);
  'operationId'?: (string);
  /**
   * Pull only these ranges of the source (sync, resume); empty pulls
   * everything (STAGING mode only).
   */
  'ranges'?: (_kvmclone_agent_v1_ByteRange)[];
  'mode'?: (_kvmclone_agent_v1_PullMode);
  /**
   * FILE (default): the source path is a file, moved as stored. GUEST: the
   * source path is a live view (guest offsets); the target is written
   * through its format (qemu-nbd), so a qcow2 stays a qcow2.
   */
  'layer'?: (_kvmclone_agent_v1_ExtentLayer);
  /**
   * GUEST layer, STAGING mode: format of the image to create ("qcow2",
   * "raw"); IN_PLACE: must match the target's.
   * FILE layer, IN_PLACE: the target's format as its domain says it ("" =
   * read from the target's qcow2 magic, for older controllers). For a qcow2
   * target the agent puts together the header the apply would leave before
   * the journal commits: it keeps the target's own backing reference and
   * format where both headers name a backing file (a copy rebased at clone
   * time stays on its chain), and refuses (journal discarded, image
   * untouched) a header naming an external data file, a protocol or a
   * backing file outside the image roots (PERMISSION_DENIED), one that is
   * not a qcow2 header (DATA_LOSS), or a backing file where the target has
   * none (FAILED_PRECONDITION). The final digest is then of the image with
   * the header as the source sent it, so it compares with the source's.
   */
  'format'?: (string);
  /**
   * IN_PLACE: the final digest covers just the requested ranges, read back
   * after the apply (RangesDigest form, see DigestImageRequest.ranges),
   * instead of the whole image: a changed-block sync then reads only what
   * it changed.
   */
  'digestRanges'?: (boolean);
  /**
   * IN_PLACE: the destination VM whose disk the target is. Right before the
   * journal is applied the agent checks through libvirt that this VM is
   * still shut off; if it runs (or is paused, ...) the journal is discarded
   * and the call fails with FAILED_PRECONDITION, the image untouched. ""
   * skips the check (older controllers).
   */
  'destVm'?: (string);
  /**
   * IN_PLACE, FILE layer: keep a restore point of the image as it was before
   * this pull — an undo record of exactly the bytes the pull overwrites (and
   * the tail a shrink cuts off), written beside the image, checked and
   * fdatasynced before the journal commits — and keep the newest
   * `keep_points` of them (older ones are removed after the apply). 0 keeps
   * none and removes the image's existing points once the pull commits: an
   * image changed without an undo record breaks their chain. A GUEST-layer
   * pull with keep_points > 0 is refused (INVALID_ARGUMENT).
   */
  'keepPoints'?: (number);
  /**
   * Free text kept with the restore point (e.g. the replica's name); at most
   * 200 characters.
   */
  'pointLabel'?: (string);
  /**
   * Passed to the source's ReadRanges: most bytes per second of data the
   * source agent sends for this operation, 0 for no limit (kvmctl --bwlimit).
   */
  'rateLimit'?: (number | string | Long);
  /**
   * Passed to the source's ReadRanges: whether chunks may travel compressed
   * (kvmctl --compress); the destination decompresses before any check.
   */
  'compress'?: (_kvmclone_agent_v1_Compress);
  /**
   * STAGING mode, whole file (no ranges): the source is read over this many
   * connections to the peer socket at once — each its own SSH channel, so
   * one channel's window does not cap a long link — in 16 MiB stripes,
   * merged back into file order here. 0 or 1: one connection; at most 8.
   */
  'streams'?: (number);
  /**
   * STAGING mode: directories missing between the target and its image
   * root are created first (mode 0711: traversable, not listable), each
   * beneath the one before, following no symlink — a TPM state directory
   * named after a clone's new UUID. Capability "transfer.tpm-state".
   */
  'makeParents'?: (boolean);
}

export interface PullImageRequest__Output {
  /**
   * Socket on this host that reaches the source agent's peer socket; must be
   * a fresh per-operation path under the agent's runtime directory.
   */
  'peerSocket': (string);
  'ticket': (string);
  /**
   * Image path on the source host.
   */
  'sourcePath': (string);
  /**
   * Final path on this host; the staging file is created beside it.
   */
  'targetPath': (string);
  /**
   * Continue an interrupted pull into this staging file; "" starts afresh.
   */
  'stagingId': (string);
  'operationId': (string);
  /**
   * Pull only these ranges of the source (sync, resume); empty pulls
   * everything (STAGING mode only).
   */
  'ranges': (_kvmclone_agent_v1_ByteRange__Output)[];
  'mode': (_kvmclone_agent_v1_PullMode__Output);
  /**
   * FILE (default): the source path is a file, moved as stored. GUEST: the
   * source path is a live view (guest offsets); the target is written
   * through its format (qemu-nbd), so a qcow2 stays a qcow2.
   */
  'layer': (_kvmclone_agent_v1_ExtentLayer__Output);
  /**
   * GUEST layer, STAGING mode: format of the image to create ("qcow2",
   * "raw"); IN_PLACE: must match the target's.
   * FILE layer, IN_PLACE: the target's format as its domain says it ("" =
   * read from the target's qcow2 magic, for older controllers). For a qcow2
   * target the agent puts together the header the apply would leave before
   * the journal commits: it keeps the target's own backing reference and
   * format where both headers name a backing file (a copy rebased at clone
   * time stays on its chain), and refuses (journal discarded, image
   * untouched) a header naming an external data file, a protocol or a
   * backing file outside the image roots (PERMISSION_DENIED), one that is
   * not a qcow2 header (DATA_LOSS), or a backing file where the target has
   * none (FAILED_PRECONDITION). The final digest is then of the image with
   * the header as the source sent it, so it compares with the source's.
   */
  'format': (string);
  /**
   * IN_PLACE: the final digest covers just the requested ranges, read back
   * after the apply (RangesDigest form, see DigestImageRequest.ranges),
   * instead of the whole image: a changed-block sync then reads only what
   * it changed.
   */
  'digestRanges': (boolean);
  /**
   * IN_PLACE: the destination VM whose disk the target is. Right before the
   * journal is applied the agent checks through libvirt that this VM is
   * still shut off; if it runs (or is paused, ...) the journal is discarded
   * and the call fails with FAILED_PRECONDITION, the image untouched. ""
   * skips the check (older controllers).
   */
  'destVm': (string);
  /**
   * IN_PLACE, FILE layer: keep a restore point of the image as it was before
   * this pull — an undo record of exactly the bytes the pull overwrites (and
   * the tail a shrink cuts off), written beside the image, checked and
   * fdatasynced before the journal commits — and keep the newest
   * `keep_points` of them (older ones are removed after the apply). 0 keeps
   * none and removes the image's existing points once the pull commits: an
   * image changed without an undo record breaks their chain. A GUEST-layer
   * pull with keep_points > 0 is refused (INVALID_ARGUMENT).
   */
  'keepPoints': (number);
  /**
   * Free text kept with the restore point (e.g. the replica's name); at most
   * 200 characters.
   */
  'pointLabel': (string);
  /**
   * Passed to the source's ReadRanges: most bytes per second of data the
   * source agent sends for this operation, 0 for no limit (kvmctl --bwlimit).
   */
  'rateLimit': (number);
  /**
   * Passed to the source's ReadRanges: whether chunks may travel compressed
   * (kvmctl --compress); the destination decompresses before any check.
   */
  'compress': (_kvmclone_agent_v1_Compress__Output);
  /**
   * STAGING mode, whole file (no ranges): the source is read over this many
   * connections to the peer socket at once — each its own SSH channel, so
   * one channel's window does not cap a long link — in 16 MiB stripes,
   * merged back into file order here. 0 or 1: one connection; at most 8.
   */
  'streams': (number);
  /**
   * STAGING mode: directories missing between the target and its image
   * root are created first (mode 0711: traversable, not listable), each
   * beneath the one before, following no symlink — a TPM state directory
   * named after a clone's new UUID. Capability "transfer.tpm-state".
   */
  'makeParents': (boolean);
}
