/**
 * An in-memory LibvirtPort for unit tests. Domains are defined from XML
 * (name, uuid, memory and vCPUs read with the same reader as the services),
 * have states a test can set, and fail the way libvirtd fails: the fake
 * raises libvirt's own messages ("Domain not found: ...", "Requested
 * operation is not valid: domain is not running", "operation failed: domain
 * 'x' already exists with uuid ...") and maps them with the adapter's
 * `libvirtFailure`, so codes and texts match the real adapter's.
 *
 * Live copies (LibvirtLivePort) are modelled as libvirt 9.0 behaves (see
 * test/integration/libvirt-backup-checkpoints.test.ts): one backup job per running
 * domain; checkpoints with parents, whose dirty bitmaps live "in the images"
 * apart from libvirt's metadata (so a metadata-only delete and a redefine
 * bring a checkpoint back, and `killQemu` breaks them all); bitmaps only on
 * qcow2 disks; and a guest agent that freezes, is missing, or hangs.
 *
 * The domain half is FakeLibvirtDomains (fake-libvirt-domains.ts), which
 * this class extends; checkpoints are made and read in fake-checkpoints.ts.
 */
import { access } from 'node:fs/promises';
import { KvmcloneError } from '../../shared/errors.js';
import { parseBackupXml, parseCheckpointXml, validCheckpointName } from './backup-xml.js';
import { addCheckpoint, checkpointOf, checkpointXmlText, newCheckpoint } from './fake-checkpoints.js';
import { FakeLibvirtDomains } from './fake-libvirt-domains.js';
import { diskFormats, FakeLibvirtError, requireRunning, type StoredDomain } from './fake-libvirt-state.js';
import type { BackupJobDisk, BackupJobRecord, CheckpointRecord, CheckpointSummary, DomainJobRecord, LibvirtLivePort, LiveCallArgs, PortCallOptions } from './libvirt-port.js';

/**
 * How the fake's guest agent answers a freeze or thaw: it works; the domain
 * has no agent channel; the channel is there but no agent runs in the guest;
 * or the agent never answers (the call ends at its timeout).
 */
export type GuestAgentBehaviour = 'ok' | 'not-configured' | 'not-connected' | 'hang';

/** LibvirtPort and LibvirtLivePort in memory. */
export class FakeLibvirt extends FakeLibvirtDomains implements LibvirtLivePort {
  /** What backupSupported answers. */
  backupSupport = true;
  /** How the guest agent answers fsFreeze and fsThaw. */
  guestAgent: GuestAgentBehaviour = 'ok';
  /** How many filesystems the guest agent freezes and thaws. */
  guestFilesystems = 2;

  /** Test helper: the guest writes `bytes` to disk `target`: every bitmap of that disk, and a running job's scratch file, grow. */
  writeGuest(domain: string, target: string, bytes: number): void {
    const live = this.stored(domain).live;
    for (const disks of live.bitmaps.values()) {
      const dirty = disks.get(target);
      if (dirty !== undefined) disks.set(target, dirty + bytes);
    }
    if (live.job?.record.disks.some((d) => d.target === target && d.backup)) live.job.scratchBytes += bytes;
  }

  /** Test helper: QEMU dies uncleanly (kill -9): the domain stops and every bitmap is lost, while libvirt keeps the checkpoints' metadata. */
  killQemu(domain: string): void {
    const stored = this.stored(domain);
    stored.live.bitmaps.clear();
    this.powerOff(stored);
  }

  /** Test helper: whether the guest's filesystems are frozen. */
  isFrozen(domain: string): boolean {
    return this.stored(domain).live.frozen;
  }

  backupSupported(options?: PortCallOptions): Promise<boolean> {
    return this.run('backupSupported', '', 'read domain capabilities', options, () => this.backupSupport);
  }

  private jobRecord(stored: StoredDomain): DomainJobRecord | undefined {
    const job = stored.live.job;
    if (!job) return undefined;
    return { type: 'unbounded', operation: 'backup', elapsedMs: Date.now() - job.startedAt, tempUsedBytes: job.scratchBytes, tempTotalBytes: undefined };
  }

  domainJob(domain: string, options?: PortCallOptions): Promise<DomainJobRecord | undefined> {
    return this.run('domainJob', domain, `read the job of domain '${domain}'`, options, () => this.jobRecord(this.stored(domain)));
  }

  backupBegin(domain: string, backupXml: string, checkpointXml: string | undefined, options?: PortCallOptions): Promise<BackupJobRecord> {
    const doing = `begin a backup of domain '${domain}'`;
    return this.run('backupBegin', domain, doing, options, async () => {
      const stored = this.stored(domain);
      if (stored.record.state === 'shutoff') throw new FakeLibvirtError('Operation not supported: cannot perform disk backup for inactive domain');
      const running = this.jobRecord(stored);
      if (running)
        throw new KvmcloneError(
          'ABORTED',
          `${doing}: a ${running.operation} job runs on it already (for ${Math.round(running.elapsedMs / 1000)} s); a domain has one job at a time`,
        );
      const live = stored.live;
      const formats = diskFormats(stored);
      const request = parseBackupXml(backupXml);
      if (request.mode !== 'pull') throw new FakeLibvirtError('unsupported configuration: the fake runs pull-mode backups only');
      const base = request.incremental;
      if (base !== '' && !live.checkpoints.has(base)) {
        const first = request.disks.find((d) => d.backup)?.target ?? '';
        throw new FakeLibvirtError(`Domain checkpoint not found: Checkpoint '${base}' for incremental backup of disk '${first}' not found`);
      }
      const listed = new Set(request.disks.map((d) => d.target));
      const disks: BackupJobDisk[] = [];
      for (const d of request.disks) {
        if (!formats.has(d.target)) throw new FakeLibvirtError(`unsupported configuration: no disk named '${d.target}'`);
        if (!d.backup) {
          disks.push({ ...d, mode: '', incremental: '', exportName: '', exportBitmap: '', scratch: '' });
          continue;
        }
        if (d.scratch === '') throw new FakeLibvirtError("internal error: argument key 'filename' must not have null value");
        if (
          await access(d.scratch).then(
            () => true,
            () => false,
          )
        )
          throw new FakeLibvirtError(`invalid argument: store '${d.scratch}' for backup of '${d.target}' exists`);
        if (base !== '' && !live.bitmaps.get(live.checkpoints.get(base)?.disks.find((c) => c.target === d.target)?.bitmap ?? '')?.has(d.target)) {
          throw new FakeLibvirtError(`checkpoint inconsistent: missing or broken bitmap '${base}' for disk '${d.target}'`);
        }
        disks.push({
          target: d.target,
          backup: true,
          mode: base === '' ? 'full' : 'incremental',
          incremental: base,
          exportName: d.exportName || d.target,
          exportBitmap: base === '' ? '' : d.exportBitmap || `backup-${d.target}`,
          scratch: d.scratch,
        });
      }
      for (const target of formats.keys()) {
        if (!listed.has(target)) disks.push({ target, backup: false, mode: '', incremental: '', exportName: '', exportBitmap: '', scratch: '' });
      }
      if (!disks.some((d) => d.backup)) throw new FakeLibvirtError('invalid argument: no disks selected for backup');
      const checkpoint = checkpointXml === undefined ? undefined : newCheckpoint(stored, checkpointXml, formats);
      if (checkpoint) addCheckpoint(live, checkpoint);
      const record: BackupJobRecord = { mode: 'pull', incremental: base, socket: request.socket, disks };
      live.job = { record, startedAt: Date.now(), scratchBytes: 0 };
      return structuredClone(record);
    });
  }

  backupJob(domain: string, options?: PortCallOptions): Promise<BackupJobRecord | undefined> {
    return this.run('backupJob', domain, `read the backup job of domain '${domain}'`, options, () => {
      const job = this.stored(domain).live.job;
      return job ? structuredClone(job.record) : undefined;
    });
  }

  abortJob(domain: string, options?: PortCallOptions): Promise<boolean> {
    return this.run('abortJob', domain, `end the backup job of domain '${domain}'`, options, () => {
      const live = this.stored(domain).live;
      const had = live.job !== undefined;
      live.job = undefined;
      return had;
    });
  }

  listCheckpoints(domain: string, options?: PortCallOptions): Promise<CheckpointSummary[]> {
    return this.run('listCheckpoints', domain, `list the checkpoints of domain '${domain}'`, options, () =>
      [...this.stored(domain).live.checkpoints.values()].map((c) => ({ name: c.name, parent: c.parent, creationTime: c.creationTime })),
    );
  }

  checkpointXml(...[domain, name, options]: LiveCallArgs<'checkpointXml'>): Promise<string> {
    return this.run('checkpointXml', `${domain} ${name}`, `read checkpoint '${name}' of domain '${domain}'`, options, () => {
      const c = checkpointOf(this.stored(domain), name, options?.size ?? false);
      return checkpointXmlText(c);
    });
  }

  getCheckpoint(...[domain, name, options]: LiveCallArgs<'getCheckpoint'>): Promise<CheckpointRecord> {
    return this.run('getCheckpoint', `${domain} ${name}`, `read checkpoint '${name}' of domain '${domain}'`, options, () =>
      structuredClone(checkpointOf(this.stored(domain), name, options?.size ?? false)),
    );
  }

  deleteCheckpoint(...[domain, name, options]: LiveCallArgs<'deleteCheckpoint'>): Promise<void> {
    const metadataOnly = options?.metadataOnly ?? false;
    const doing = `delete checkpoint '${name}' of domain '${domain}'${metadataOnly ? ' (metadata only)' : ''}`;
    return this.run('deleteCheckpoint', `${domain} ${name}${metadataOnly ? ' metadata' : ''}`, doing, options, () => {
      const stored = this.stored(domain);
      const live = stored.live;
      const checkpoint = checkpointOf(stored, name, false);
      if (!metadataOnly) {
        if (stored.record.state === 'shutoff') throw new FakeLibvirtError('Operation not supported: cannot delete checkpoint for inactive domain');
        const lost = checkpoint.disks.find((d) => d.tracked && !live.bitmaps.get(d.bitmap)?.has(d.target));
        if (lost) throw new FakeLibvirtError(`internal error: bitmap '${lost.bitmap}' not found in backing chain of '${lost.target}'`);
        live.bitmaps.delete(name);
      }
      live.checkpoints.delete(name);
      for (const c of live.checkpoints.values()) if (c.parent === name) c.parent = checkpoint.parent;
    });
  }

  redefineCheckpoint(...[domain, xml, options]: LiveCallArgs<'redefineCheckpoint'>): Promise<void> {
    const validate = options?.validate ?? true;
    return this.run('redefineCheckpoint', domain, `redefine a checkpoint of domain '${domain}'`, options, () => {
      const stored = this.stored(domain);
      const live = stored.live;
      const checkpoint = parseCheckpointXml(xml);
      validCheckpointName(checkpoint.name, 'checkpoint XML <name>');
      if (checkpoint.parent !== '' && !live.checkpoints.has(checkpoint.parent)) {
        throw new FakeLibvirtError(`invalid argument: parent ${checkpoint.parent} for moment ${checkpoint.name} not found`);
      }
      if (validate) {
        requireRunning(stored);
        const lost = checkpoint.disks.find((d) => d.tracked && !live.bitmaps.get(d.bitmap)?.has(d.target));
        if (lost) throw new FakeLibvirtError(`checkpoint inconsistent: missing or broken bitmap '${lost.bitmap}' for disk '${lost.target}'`);
      }
      live.checkpoints.set(checkpoint.name, { ...checkpoint, disks: checkpoint.disks.map((d) => ({ ...d, sizeBytes: undefined })) });
    });
  }

  private guestAgentCall(verb: 'freeze' | 'thaw', domain: string, timeoutMs: number, options?: PortCallOptions): Promise<number> {
    const doing = `${verb} the filesystems of domain '${domain}'`;
    return this.run(verb === 'freeze' ? 'fsFreeze' : 'fsThaw', domain, doing, options, async () => {
      const stored = this.stored(domain);
      requireRunning(stored);
      switch (this.guestAgent) {
        case 'not-configured':
          throw new FakeLibvirtError('argument unsupported: QEMU guest agent is not configured');
        case 'not-connected':
          throw new FakeLibvirtError('Guest agent is not responding: QEMU guest agent is not connected');
        case 'hang':
          return new Promise<number>((_resolve, reject) => {
            const timer = setTimeout(
              () => reject(new KvmcloneError('DEADLINE_EXCEEDED', `${doing}: the guest agent did not answer within ${timeoutMs} ms (libvirt may still carry the command out)`)),
              timeoutMs,
            );
            options?.signal?.addEventListener(
              'abort',
              () => {
                clearTimeout(timer);
                reject(options.signal?.reason);
              },
              { once: true },
            );
          });
        case 'ok':
          stored.live.frozen = verb === 'freeze';
          return this.guestFilesystems;
      }
    });
  }

  fsFreeze(domain: string, timeoutMs: number, options?: PortCallOptions): Promise<number> {
    return this.guestAgentCall('freeze', domain, timeoutMs, options);
  }

  fsThaw(domain: string, timeoutMs: number, options?: PortCallOptions): Promise<number> {
    return this.guestAgentCall('thaw', domain, timeoutMs, options);
  }
}
