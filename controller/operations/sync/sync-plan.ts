/**
 * Which files of a synced VM pair with which: disks by guest target (vda with
 * vda), NVRAM with NVRAM, swtpm state files by their name in the state
 * directory (each side's own: it follows each VM's UUID). A disk only the
 * source has is added at the destination; one only the destination has is
 * removed there. A TPM state file only the source has is added; one only the
 * destination has is left alone (swtpm's, not a disk of the VM).
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
  /** An added file whose directory may not exist yet (TPM state): the destination makes it. */
  makeParents?: boolean;
}

/** Label prefix of a TPM state file's pair. */
const TPM_LABEL = 'tpm ';

/** True for a pair that is VM state moved whole (NVRAM, TPM state) rather than a disk. */
export function isStateFile(pair: Pick<SyncPair, 'label'>): boolean {
  return pair.label === 'nvram' || pair.label.startsWith(TPM_LABEL);
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
    pairs.push({
      label: 'nvram',
      kind: 'add',
      sourcePath: source.nvramPath,
      targetPath: join(dirname(source.nvramPath), targetFileName(basename(source.nvramPath), vm, destVm)),
      virtualSize: 0,
      format: 'raw',
    });
  }
  if (source.tpmStatePath !== '' && dest.tpmStatePath !== '') {
    const destFiles = new Set(dest.tpmStateFiles);
    for (const name of source.tpmStateFiles) {
      const kind = destFiles.has(name) ? 'update' : 'add';
      pairs.push({
        label: `${TPM_LABEL}${name}`,
        kind,
        sourcePath: join(source.tpmStatePath, name),
        targetPath: join(dest.tpmStatePath, name),
        virtualSize: 0,
        format: 'raw',
        ...(kind === 'add' && { makeParents: true }),
      });
    }
  }
  return pairs;
}
