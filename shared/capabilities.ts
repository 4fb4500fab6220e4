/**
 * Named capabilities of the agent API. A client checks the ones it needs in
 * the Info answer before it starts, so an older agent is refused with a clear
 * sentence instead of failing halfway with UNIMPLEMENTED.
 */
export const AGENT_CAPABILITIES = [
  'domain.list',
  'domain.describe',
  'domain.define',
  'domain.lifecycle',
  /** StartDomainRequest.paused and ResumeDomain: a VM started with its CPUs stopped (a checkpoint at its first instant). */
  'domain.start-paused',
  'domain.undefine',
  'storage.free-space',
  'storage.pools',
  'disk.stat',
  'disk.extents',
  'disk.hash',
  'disk.digest',
  'disk.read',
  'disk.write',
  'disk.staging',
  'disk.rebase',
  'disk.remove',
  'transfer.pull-in-place',
  'transfer.pull',
  'transfer.ticket',
  'transfer.lock',
  /** OpenLiveView, DescribeLiveView, PruneCheckpoints; view paths; GUEST-layer pulls, hashes and digests. */
  'transfer.live',
  /** InfoService.ReadAudit: the audit trail of mutating calls, read back (kvmctl audit). */
  'audit.read',
  /**
   * Peer sockets go in GetInfo.forward_dir (group-writable, so an unprivileged
   * SSH account can bind them) and are removed with RemovePeerSocket; GetInfo
   * reports the caller.
   */
  'transfer.forward-dir',
  /**
   * TransferService.ListLeftovers (read-only) and RemoveLeftovers (admin):
   * staging files, journals, peer sockets, scratch files and locks that
   * operations left, with their operation id and age (kvmctl hosts check, gc).
   */
  'transfer.leftovers',
  /**
   * PullImage keep_points (in-place pulls keep undo records as
   * restore points), ListRestorePoints (read-only), RestorePoint and
   * RemoveRestorePoints (admin).
   */
  'transfer.restore-points',
  /**
   * PullImage keep_points on GUEST-layer in-place pulls (a live sync): the
   * undo record is read and restored through the image's format, and its
   * digest is of what the guest sees (agent/transfer/pull-point.ts).
   */
  'transfer.live-restore-points',
  /** ReadRangesRequest/PullImageRequest.rate_limit: a source agent paces an operation's data (kvmctl --bwlimit). */
  'transfer.rate-limit',
  /** ReadRangesRequest/PullImageRequest.compress and zstd DataChunks (kvmctl --compress). */
  'transfer.compress',
  /** PullImageRequest.streams: a whole-file pull reads its source over several connections (transfer.streams). */
  'transfer.streams',
  /** OpenLiveViewRequest.shut_off: a view of a shut-off domain, each disk's chain merged by qemu-nbd (kvmctl clone --flatten). */
  'transfer.flatten',
  /** DescribeDomainResponse.tpm_state_files and tpm_secret; DomainService.DescribeSecret; PullImageRequest.make_parents (swtpm state carried by clone and sync). */
  'transfer.tpm-state',
] as const;

/** One capability name. */
export type AgentCapability = (typeof AGENT_CAPABILITIES)[number];

/** API versions this build serves, newest first. */
export const SERVED_API_VERSIONS = ['v1'] as const;
