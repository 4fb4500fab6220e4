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
  /** The image format as the source's domain says it ("raw" for NVRAM): an in-place pull tells the destination. */
  format: string;
}

function disksOf(d: DescribeDomainResponse__Output): Map<string, { path: string; virtualSize: number; format: string }> {
  return new Map(d.disks.filter((k) => k.device === 'disk' && k.path !== '').map((k) => [k.target, { path: k.path, virtualSize: k.virtualSize, format: k.format }]));
}

/** Pairs the files of source and destination VM. */
export function pairFiles(source: DescribeDomainResponse__Output, dest: DescribeDomainResponse__Output, vm: string, destVm: string): SyncPair[] {
  const src = disksOf(source);
  const dst = disksOf(dest);
  const pairs: SyncPair[] = [];
  const destDir = dst.size > 0 ? dirname([...dst.values()][0]?.path ?? '') : undefined;
  for (const [target, s] of src) {
    const d = dst.get(target);
    if (d) pairs.push({ label: target, kind: 'update', sourcePath: s.path, targetPath: d.path, virtualSize: s.virtualSize, format: s.format });
    else {
      const dir = destDir ?? dirname(s.path);
      pairs.push({ label: target, kind: 'add', sourcePath: s.path, targetPath: join(dir, targetFileName(s.path, vm, destVm)), virtualSize: s.virtualSize, format: s.format });
    }
  }
  for (const [target, d] of dst) {
    if (!src.has(target)) pairs.push({ label: target, kind: 'remove', sourcePath: '', targetPath: d.path, virtualSize: d.virtualSize, format: d.format });
  }
  if (source.nvramPath !== '' && dest.nvramPath !== '') {
    pairs.push({ label: 'nvram', kind: 'update', sourcePath: source.nvramPath, targetPath: dest.nvramPath, virtualSize: 0, format: 'raw' });
  } else if (source.nvramPath !== '') {
    pairs.push({ label: 'nvram', kind: 'add', sourcePath: source.nvramPath, targetPath: join(dirname(source.nvramPath), targetFileName(basename(source.nvramPath), vm, destVm)), virtualSize: 0, format: 'raw' });
  }
  return pairs;
}
