/**
 * Which files of a synced VM pair with which: disks by guest target (vda with
 * vda), NVRAM with NVRAM. A disk only the source has is added at the
 * destination; one only the destination has is removed there.
 */
import { basename, dirname, join } from 'node:path';
import type { DescribeDomainResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import { targetFileName } from '../clone/clone-plan.js';

/** One file of the sync. */
export interface SyncPair {
  label: string;
  kind: 'update' | 'add' | 'remove';
  sourcePath: string;
  targetPath: string;
  virtualSize: number;
}

function disksOf(d: DescribeDomainResponse__Output): Map<string, { path: string; virtualSize: number }> {
  return new Map(d.disks.filter((k) => k.device === 'disk' && k.path !== '').map((k) => [k.target, { path: k.path, virtualSize: k.virtualSize }]));
}

/** Pairs the files of source and destination VM. */
export function pairFiles(source: DescribeDomainResponse__Output, dest: DescribeDomainResponse__Output, vm: string, destVm: string): SyncPair[] {
  const src = disksOf(source);
  const dst = disksOf(dest);
  const pairs: SyncPair[] = [];
  const destDir = dst.size > 0 ? dirname([...dst.values()][0]?.path ?? '') : undefined;
  for (const [target, s] of src) {
    const d = dst.get(target);
    if (d) pairs.push({ label: target, kind: 'update', sourcePath: s.path, targetPath: d.path, virtualSize: s.virtualSize });
    else {
      const dir = destDir ?? dirname(s.path);
      pairs.push({ label: target, kind: 'add', sourcePath: s.path, targetPath: join(dir, targetFileName(s.path, vm, destVm)), virtualSize: s.virtualSize });
    }
  }
  for (const [target, d] of dst) {
    if (!src.has(target)) pairs.push({ label: target, kind: 'remove', sourcePath: '', targetPath: d.path, virtualSize: d.virtualSize });
  }
  if (source.nvramPath !== '' && dest.nvramPath !== '') {
    pairs.push({ label: 'nvram', kind: 'update', sourcePath: source.nvramPath, targetPath: dest.nvramPath, virtualSize: 0 });
  } else if (source.nvramPath !== '') {
    pairs.push({ label: 'nvram', kind: 'add', sourcePath: source.nvramPath, targetPath: join(dirname(source.nvramPath), targetFileName(basename(source.nvramPath), vm, destVm)), virtualSize: 0 });
  }
  return pairs;
}
