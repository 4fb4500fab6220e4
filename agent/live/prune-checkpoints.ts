/**
 * PruneCheckpoints: once the destination confirmed a checkpoint (committed
 * and digest-checked), the replica's older kvmclone checkpoints are deleted
 * on the source — their bitmaps cost the guest a little on every write. The
 * confirmed one stays as the next incremental base; checkpoints of other
 * replicas and of other tools are never touched.
 */
import type { Logger } from 'pino';
import type { PruneCheckpointsRequest__Output } from '../../shared/generated/kvmclone/agent/v1/PruneCheckpointsRequest.js';
import type { PruneCheckpointsResponse } from '../../shared/generated/kvmclone/agent/v1/PruneCheckpointsResponse.js';
import { checkVmName } from '../../shared/validation.js';
import type { LibvirtLivePort, LibvirtPort } from '../libvirt/libvirt-port.js';
import { isCheckpointInconsistent } from '../libvirt/libvirt-errors.js';
import { checkCheckpointName, checkReplicaId, replicaCheckpoints } from './checkpoint-names.js';

/** Deletes the replica's checkpoints older than `keep` (all of them when `keep` is ''). */
export async function pruneCheckpoints(
  req: PruneCheckpointsRequest__Output,
  libvirt: LibvirtPort & LibvirtLivePort,
  log: Logger,
  signal: AbortSignal,
): Promise<PruneCheckpointsResponse> {
  const vm = checkVmName(req.vmName, 'vm_name');
  const replicaId = checkReplicaId(req.replicaId);
  const keep = req.keep === '' ? '' : checkCheckpointName(req.keep, replicaId, 'keep');
  const ours = replicaCheckpoints(
    (await libvirt.listCheckpoints(vm, { signal })).map((c) => c.name),
    replicaId,
  );
  const upTo = keep === '' ? ours.length : ours.indexOf(keep);
  const doomed = upTo < 0 ? [] : ours.slice(0, upTo);
  const deleted: string[] = [];
  // Oldest first: libvirt merges a deleted checkpoint's bitmap into its child, so the chain stays valid throughout.
  for (const name of doomed) {
    try {
      await libvirt.deleteCheckpoint(vm, name, { signal });
    } catch (err) {
      // Its bitmap died with an unclean QEMU exit: only the metadata is left to remove.
      if (!isCheckpointInconsistent(err)) throw err;
      await libvirt.deleteCheckpoint(vm, name, { signal, metadataOnly: true });
      log.warn({ vm, checkpoint: name }, 'checkpoint had lost its bitmap: removed its metadata');
    }
    deleted.push(name);
  }
  if (deleted.length > 0) log.info({ vm, replicaId, keep, deleted }, 'older checkpoints deleted');
  return { deleted };
}
