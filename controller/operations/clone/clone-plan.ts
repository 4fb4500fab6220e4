/**
 * The clone plan: which files are created where, how big, and what happens
 * to each. Built from what preflight learned; pure, so the naming and
 * backing-chain rules are unit-tested without hosts.
 */
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

/** One file of the plan. */
export interface PlannedFile {
  /** "disk" (a VM disk), "backing" (a file of a disk's backing chain), "nvram", or "tpm" (a file of swtpm's state). */
  role: 'disk' | 'backing' | 'nvram' | 'tpm';
  /** What the user sees in progress lines, e.g. "vda", "vda backing", "nvram", "tpm tpm2/tpm2-00.permall". */
  label: string;
  sourcePath: string;
  targetPath: string;
  format: string;
  virtualSize: number;
  allocatedSize: number;
  /** copy: moved agent to agent; reuse: an identical file is already at the target. */
  action: 'copy' | 'reuse';
  /** When the copied qcow2's backing reference would not find its base at the target. */
  rebase?: { backingPath: string; backingFormat: string };
}

/** A disk as DescribeDomain reports it, reduced to what planning needs. */
export interface SourceDisk {
  target: string;
  device: string;
  path: string;
  format: string;
  virtualSize: number;
  allocatedSize: number;
  backingReference: string;
  backingChain: { path: string; format: string; virtualSize: number; allocatedSize: number; backingReference: string }[];
}

/** Inputs of planning. */
export interface PlanInput {
  vm: string;
  destVm: string;
  sameHost: boolean;
  /** --target-dir, else each file keeps its source directory. */
  targetDir?: string;
  disks: SourceDisk[];
  nvramPath: string;
}

/** The file name of a copy: the VM's name in it is replaced, else the new name is prefixed. */
export function targetFileName(sourcePath: string, vm: string, destVm: string): string {
  const name = basename(sourcePath);
  if (vm === destVm) return name;
  return name.includes(vm) ? name.replace(vm, destVm) : `${destVm}-${name}`;
}

/** Where the reference written in an image header points, seen from the image's own directory. */
export function resolveReference(imagePath: string, reference: string): string {
  return isAbsolute(reference) ? reference : resolve(dirname(imagePath), reference);
}

/**
 * Plans every file. Cross-host, backing files are copied beside their
 * targets under their own names (shared bases stay shared); on the same host
 * they are reused in place, so a clone shares its base like the source does.
 */
export function planFiles(input: PlanInput): PlannedFile[] {
  const files: PlannedFile[] = [];
  const seen = new Map<string, PlannedFile>();
  const dirFor = (source: string): string => input.targetDir ?? dirname(source);
  for (const disk of input.disks) {
    if (disk.path === '') continue;
    if (disk.device === 'cdrom' || disk.device === 'floppy') continue;
    const top: PlannedFile = {
      role: 'disk',
      label: disk.target,
      sourcePath: disk.path,
      targetPath: join(dirFor(disk.path), targetFileName(disk.path, input.vm, input.destVm)),
      format: disk.format,
      virtualSize: disk.virtualSize,
      allocatedSize: disk.allocatedSize,
      action: 'copy',
    };
    files.push(top);
    let child = top;
    let childReference = disk.backingReference;
    disk.backingChain.forEach((b, i) => {
      let backing = seen.get(b.path);
      if (!backing) {
        backing = {
          role: 'backing',
          label: `${disk.target} backing${disk.backingChain.length > 1 ? ` ${i + 1}` : ''}`,
          sourcePath: b.path,
          targetPath: input.sameHost ? b.path : join(dirFor(b.path), basename(b.path)),
          format: b.format,
          virtualSize: b.virtualSize,
          allocatedSize: b.allocatedSize,
          action: input.sameHost ? 'reuse' : 'copy',
        };
        seen.set(b.path, backing);
        files.push(backing);
      }
      if (child.action === 'copy' && resolveReference(child.targetPath, childReference) !== backing.targetPath) {
        child.rebase = { backingPath: backing.targetPath, backingFormat: backing.format };
      }
      child = backing;
      childReference = b.backingReference;
    });
  }
  if (input.nvramPath !== '') {
    files.push({
      role: 'nvram',
      label: 'nvram',
      sourcePath: input.nvramPath,
      targetPath: join(dirname(input.nvramPath), targetFileName(input.nvramPath, input.vm, input.destVm)),
      format: 'raw',
      virtualSize: 0,
      allocatedSize: 0,
      action: 'copy',
    });
  }
  return files;
}

/** Bytes the destination must find room for: allocated sizes of copied files plus a 15 % margin, per directory. */
export function spaceNeeded(files: readonly PlannedFile[]): Map<string, number> {
  const byDir = new Map<string, number>();
  for (const f of files) {
    if (f.action !== 'copy') continue;
    byDir.set(dirname(f.targetPath), (byDir.get(dirname(f.targetPath)) ?? 0) + f.allocatedSize);
  }
  for (const [dir, bytes] of byDir) byDir.set(dir, Math.ceil(bytes * 1.15));
  return byDir;
}
