/**
 * What FakeLibvirt keeps of a domain, and the error it raises: shared by its
 * domain half (fake-libvirt-domains.ts), its live-copy half
 * (fake-libvirt.ts) and the checkpoints they keep (fake-checkpoints.ts).
 */
import type { BackupJobRecord, CheckpointRecord, DomainRecord } from './libvirt-port.js';
import { readDomainFacts } from './domain-xml.js';

/** Shaped as @unraid/libvirt's LibvirtError (the binding never has a usable code), so libvirtFailure maps it as the real one. */
export class FakeLibvirtError extends Error {
  readonly code = -1;
  constructor(message: string) {
    super(message);
    this.name = 'LibvirtError';
  }
}

/** A domain's live-copy state: its backup job, checkpoints, bitmaps and guest freeze. */
export interface LiveState {
  job: { record: BackupJobRecord; startedAt: number; scratchBytes: number } | undefined;
  /** libvirt's checkpoint metadata, in creation order (parents first). */
  checkpoints: Map<string, CheckpointRecord>;
  /** The dirty bitmaps in the images: bitmap name → disk → bytes dirtied since it was made. */
  bitmaps: Map<string, Map<string, number>>;
  frozen: boolean;
}

/** One defined (or transient, running) domain of the fake: its record, definition, variable store and live-copy state. */
export interface StoredDomain {
  record: DomainRecord;
  xml: string;
  nvramPath: string;
  live: LiveState;
}

/** libvirt's refusal of what needs QEMU on a shut-off domain. */
export function requireRunning(stored: StoredDomain): void {
  if (stored.record.state === 'shutoff') throw new FakeLibvirtError('Requested operation is not valid: domain is not running');
}

/** The image format of each disk (not CD-ROMs: they take part in neither jobs nor checkpoints here), from the definition. */
export function diskFormats(stored: StoredDomain): Map<string, string> {
  return new Map(
    readDomainFacts(stored.xml)
      .disks.filter((d) => d.device === 'disk')
      .map((d) => [d.target, d.format]),
  );
}
