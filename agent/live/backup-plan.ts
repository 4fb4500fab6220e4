/**
 * Which backup job to start: full or incremental, with or without a new
 * checkpoint — and, whenever incremental was asked but cannot be given, the
 * reason, in words a user can act on. The fallbacks follow what breaks a
 * checkpoint chain on libvirt 9.0 (ARCHITECTURE, "Running VMs"): raw disks
 * (no persistent bitmaps), checkpoint metadata lost (redefined from the XML
 * saved when it was made, when the caller has it), and bitmaps left
 * inconsistent by an unclean QEMU exit (found when the job is begun).
 */
import type { Logger } from 'pino';
import { buildBackupXml, buildCheckpointXml } from '../libvirt/backup-xml.js';
import { isCheckpointInconsistent } from '../libvirt/libvirt-errors.js';
import type { BackupJobRecord, LibvirtLivePort } from '../libvirt/libvirt-port.js';

/** One disk of the view. */
export interface PlannedDisk {
  readonly target: string;
  readonly sourcePath: string;
  readonly format: string;
  readonly virtualSize: number;
  /** Its scratch file. */
  readonly scratch: string;
}

/** The job to start. */
export interface BackupPlan {
  readonly vm: string;
  readonly disks: readonly PlannedDisk[];
  readonly socket: string;
  /** Checkpoint to create with the job, or ''. */
  readonly checkpoint: string;
  /** Checkpoint the job is incremental from, or '' (full). */
  readonly incrementalFrom: string;
  /** Why the job is not incremental although that was asked, or why no checkpoint is made; '' otherwise. */
  readonly reason: string;
  /**
   * Begins the job: falls back to a full job (with the reason) when the base
   * checkpoint's bitmaps are inconsistent. Resolves with the plan that ran and
   * the job as libvirt describes it (export names, dirty bitmaps).
   */
  begin(plan: BackupPlan): Promise<{ plan: BackupPlan; job: BackupJobRecord }>;
}

/** What planBackup is told. */
export interface BackupRequest {
  vm: string;
  disks: readonly PlannedDisk[];
  socket: string;
  /** The base the caller asks for, or ''. */
  incrementalFrom: string;
  /** The base's XML as saved when it was made, or ''. */
  incrementalFromXml: string;
  /** Checkpoint to create, or '' (no changed-block tracking). */
  checkpoint: string;
  /** Checkpoints libvirt knows of the domain now. */
  existing: readonly string[];
  signal: AbortSignal;
  log: Logger;
}

function joinReasons(...reasons: string[]): string {
  return reasons.filter((r) => r !== '').join('; ');
}

/**
 * The saved XML names the checkpoint's parent as it was when it was made; that
 * parent is usually deleted since (pruned once its child was confirmed), and
 * libvirt refuses to redefine a checkpoint whose parent it does not know. The
 * bitmap does not depend on the parent, so a missing parent is dropped.
 */
function withoutMissingParent(xml: string, existing: readonly string[]): string {
  return xml.replace(/<parent>\s*<name>([^<]*)<\/name>\s*<\/parent>\s*/, (whole, name: string) => (existing.includes(name) ? whole : ''));
}

/** Decides the job and builds what begins it. */
export async function planBackup(libvirt: LibvirtLivePort, r: BackupRequest): Promise<BackupPlan> {
  const raw = r.disks.filter((d) => d.format !== 'qcow2').map((d) => d.target);
  const bitmapDisks = r.disks.filter((d) => d.format === 'qcow2');
  const checkpoint = r.checkpoint !== '' && bitmapDisks.length > 0 ? r.checkpoint : '';
  const noCheckpoint = r.checkpoint !== '' && checkpoint === '' ? 'no checkpoint made: every disk is raw, and libvirt 9.0 keeps dirty bitmaps in qcow2 images only' : '';
  let incrementalFrom = '';
  let reason = '';
  if (r.incrementalFrom !== '') {
    if (raw.length > 0) {
      reason = `disk ${raw.join(', ')} is raw: libvirt 9.0 keeps dirty bitmaps in qcow2 images only`;
    } else if (r.existing.includes(r.incrementalFrom)) {
      incrementalFrom = r.incrementalFrom;
    } else if (r.incrementalFromXml === '') {
      reason = `checkpoint ${r.incrementalFrom} is gone from libvirt (its metadata was lost) and no saved copy of it was given`;
    } else {
      try {
        await libvirt.redefineCheckpoint(r.vm, withoutMissingParent(r.incrementalFromXml, r.existing), { signal: r.signal });
        r.log.info({ vm: r.vm, checkpoint: r.incrementalFrom }, 'checkpoint metadata was lost: redefined from the XML saved when it was made');
        incrementalFrom = r.incrementalFrom;
      } catch (err) {
        reason = `checkpoint ${r.incrementalFrom} is gone from libvirt and could not be redefined from its saved XML (${err instanceof Error ? err.message : String(err)})`;
      }
    }
  }
  const make = (incremental: string, why: string): BackupPlan => ({
    vm: r.vm,
    disks: r.disks,
    socket: r.socket,
    checkpoint,
    incrementalFrom: incremental,
    reason: joinReasons(why, noCheckpoint),
    begin: (plan) => begin(libvirt, plan, r, make),
  });
  return make(incrementalFrom, reason);
}

async function begin(
  libvirt: LibvirtLivePort,
  plan: BackupPlan,
  r: BackupRequest,
  make: (incremental: string, why: string) => BackupPlan,
): Promise<{ plan: BackupPlan; job: BackupJobRecord }> {
  const backupXml = buildBackupXml({
    socket: plan.socket,
    incremental: plan.incrementalFrom,
    disks: plan.disks.map((d) => ({ target: d.target, scratch: d.scratch })),
  });
  const checkpointXml =
    plan.checkpoint === ''
      ? undefined
      : buildCheckpointXml({
          name: plan.checkpoint,
          description: 'kvmclone replica checkpoint',
          disks: plan.disks.map((d) => ({ target: d.target, bitmap: d.format === 'qcow2' })),
        });
  try {
    const job = await libvirt.backupBegin(plan.vm, backupXml, checkpointXml, { signal: r.signal });
    return { plan, job };
  } catch (err) {
    if (plan.incrementalFrom === '' || !isCheckpointInconsistent(err)) throw err;
    r.log.warn({ vm: plan.vm, checkpoint: plan.incrementalFrom, err }, 'the base checkpoint is inconsistent: starting a full view and a new checkpoint chain');
    const full = make('', `the dirty bitmaps of checkpoint ${plan.incrementalFrom} are inconsistent (QEMU stopped uncleanly since it was made)`);
    return begin(libvirt, full, r, make);
  }
}
