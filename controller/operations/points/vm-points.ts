/**
 * A VM's restore points, as kvmctl shows and restores them: each disk
 * keeps its own points (agent/transfer/restore-points.ts), and the points
 * one sync made of all the disks share that sync's operation id — so a VM's
 * point is the group of its disks' points with one operation id, restored
 * together. A group that lacks a disk (the disk was added later, or its
 * points were removed) cannot bring the VM back whole and is refused.
 */
import type { ClientReadableStream } from '@grpc/grpc-js';
import { failedPrecondition, notFound } from '../../../shared/errors.js';
import { fromStatus } from '../../../shared/from-status.js';
import type { DescribeDomainResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import type { RestorePointProgress__Output } from '../../../shared/generated/kvmclone/agent/v1/RestorePointProgress.js';
import type { HostSession } from '../../transport/host-session.js';

/** One disk's point of a VM point. */
export interface DiskPoint {
  readonly target: string;
  readonly path: string;
  readonly pointId: string;
  readonly digest: string;
  readonly sizeBytes: number;
}

/** A VM point: its disks' points made by one sync. */
export interface VmPoint {
  /** The operation id of the sync that made it (what --point takes, or a unique prefix of it). */
  readonly id: string;
  readonly createdUnix: number;
  readonly label: string;
  readonly sizeBytes: number;
  readonly disks: DiskPoint[];
  /** False when some disk of the VM has no point of that sync. */
  readonly complete: boolean;
}

/** The VM's disks that are image files (points are kept per image; a sync pairs them, a live view copies them). */
export function imageDisks(domain: DescribeDomainResponse__Output): { target: string; path: string; format: string }[] {
  return domain.disks.filter((d) => d.device === 'disk' && d.path !== '').map((d) => ({ target: d.target, path: d.path, format: d.format }));
}

/** The VM's points, newest first, from each disk's ListRestorePoints. */
export async function listVmPoints(session: HostSession, domain: DescribeDomainResponse__Output, signal: AbortSignal): Promise<VmPoint[]> {
  const disks = imageDisks(domain);
  const groups = new Map<string, { createdUnix: number; label: string; disks: DiskPoint[] }>();
  for (const disk of disks) {
    const res = await session.call(session.clients.transfer, session.clients.transfer.listRestorePoints, { targetPath: disk.path }, signal);
    for (const p of res.points) {
      const key = p.operationId !== '' ? p.operationId : `point-${p.id}`;
      const group = groups.get(key) ?? { createdUnix: p.createdUnix, label: p.label, disks: [] };
      group.createdUnix = Math.min(group.createdUnix, p.createdUnix);
      group.disks.push({ target: disk.target, path: disk.path, pointId: p.id, digest: p.digest, sizeBytes: Number(p.sizeBytes) });
      groups.set(key, group);
    }
  }
  return [...groups.entries()]
    .map(([id, g]) => ({
      id,
      createdUnix: g.createdUnix,
      label: g.label,
      disks: g.disks,
      sizeBytes: g.disks.reduce((n, d) => n + d.sizeBytes, 0),
      complete: g.disks.length === disks.length,
    }))
    .sort((a, b) => b.createdUnix - a.createdUnix);
}

/** The point `wanted` names: an operation id, a unique prefix of one, or one disk point's id. */
export function findVmPoint(points: readonly VmPoint[], wanted: string, vm: string): VmPoint {
  const exact = points.filter((p) => p.id === wanted || p.disks.some((d) => d.pointId === wanted));
  const matches = exact.length > 0 ? exact : points.filter((p) => wanted.length >= 4 && p.id.startsWith(wanted));
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) throw notFound(`--point: ${vm} has no restore point ${wanted} (kvmctl points lists them)`);
  throw failedPrecondition(`--point: ${wanted} names ${matches.length} restore points of ${vm}; give more of the id`);
}

/** Runs RestorePoint for one disk; `onProgress` sees each message. Resolves with the final digest. */
export function restoreDisk(
  session: HostSession,
  request: { targetPath: string; pointId: string; destVm: string; operationId: string },
  signal: AbortSignal,
  onProgress: (e: RestorePointProgress__Output) => void,
): Promise<string> {
  const call: ClientReadableStream<RestorePointProgress__Output> = session.clients.transfer.restorePoint(request);
  const cancel = (): void => call.cancel();
  signal.addEventListener('abort', cancel, { once: true });
  return new Promise<string>((resolve, reject) => {
    let digest = '';
    call.on('data', (e: RestorePointProgress__Output) => {
      onProgress(e);
      if (e.done) digest = e.digest;
    });
    call.on('error', (err) => reject(fromStatus(err, session.host)));
    call.on('end', () => resolve(digest));
  }).finally(() => signal.removeEventListener('abort', cancel));
}
