/**
 * After a live clone or sync committed and verified: remember what the
 * destination confirmed (the view's checkpoint, its XML, and each image's
 * identity), then let the source delete the replica's older checkpoints —
 * only now, so a failed run never loses the base the next one needs.
 */
import type { LiveViewEvent__Output } from '../../../shared/generated/kvmclone/agent/v1/LiveViewEvent.js';
import type { Reporter } from '../../cli/reporter.js';
import type { ImageIdentity, LiveReplicaStore, ReplicaKey } from '../../history/live-replica-store.js';
import type { HostSession } from '../../transport/host-session.js';

/** The identity of each destination image, as its agent sees it now. */
export async function imageIdentities(dst: HostSession, images: readonly { target: string; path: string }[], signal: AbortSignal): Promise<ImageIdentity[]> {
  return Promise.all(
    images.map(async ({ target, path }) => {
      const st = await dst.call(dst.clients.disk, dst.clients.disk.statImage, { path }, signal);
      return { target, path: st.path, dev: st.dev, ino: st.ino, size: st.fileSize, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
    }),
  );
}

/** True when `now` is exactly what was recorded (same files, same identities). */
export function sameIdentities(recorded: readonly ImageIdentity[], now: readonly ImageIdentity[]): { same: boolean; why: string } {
  for (const r of recorded) {
    const n = now.find((x) => x.target === r.target);
    if (!n) return { same: false, why: `disk ${r.target} has no image on the destination any more` };
    const fields = (['path', 'dev', 'ino', 'size', 'mtimeNs', 'ctimeNs'] as const).filter((f) => r[f] !== n[f]);
    if (fields.length > 0) return { same: false, why: `${r.path} on the destination changed since the last sync (${fields.join(', ')})` };
  }
  const extra = now.find((n) => !recorded.some((r) => r.target === n.target));
  if (extra) return { same: false, why: `disk ${extra.target} was not part of the last sync` };
  return { same: true, why: '' };
}

/** Records the confirmed state and prunes the source's older checkpoints of the replica (a failure there only warns). */
export async function confirmReplica(
  store: LiveReplicaStore,
  key: ReplicaKey,
  replicaId: string,
  view: LiveViewEvent__Output,
  images: readonly ImageIdentity[],
  src: HostSession,
  reporter: Reporter,
  signal: AbortSignal,
): Promise<void> {
  store.confirm(key, { checkpoint: view.checkpoint, checkpointXml: view.checkpointXml, images: [...images] });
  if (view.checkpoint === '') return;
  try {
    const pruned = await src.call(src.clients.transfer, src.clients.transfer.pruneCheckpoints, { vmName: key.vm, replicaId, keep: view.checkpoint }, signal);
    if (pruned.deleted.length > 0) reporter.info(`  deleted older checkpoint(s) on ${src.host}: ${pruned.deleted.join(', ')}`);
  } catch (err) {
    reporter.warn(`could not delete older checkpoints of ${key.vm} on ${src.host} (${err instanceof Error ? err.message : String(err)}); the next sync tries again`);
  }
}
