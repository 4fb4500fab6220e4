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
 * test/integration/libvirt-backup.test.ts): one backup job per running
 * domain; checkpoints with parents, whose dirty bitmaps live "in the images"
 * apart from libvirt's metadata (so a metadata-only delete and a redefine
 * bring a checkpoint back, and `killQemu` breaks them all); bitmaps only on
 * qcow2 disks; and a guest agent that freezes, is missing, or hangs.
 */
import { byName } from './by-name.js';
import { randomUUID } from 'node:crypto';
import { access, rm } from 'node:fs/promises';
import { KvmcloneError } from '../../shared/errors.js';
import { escapeXml, parseBackupXml, parseCheckpointXml, validCheckpointName } from './backup-xml.js';
import { readDomainFacts } from './domain-xml.js';
import { libvirtFailure } from './libvirt-errors.js';
import type {
  BackupJobDisk,
  BackupJobRecord,
  CheckpointDeleteOptions,
  CheckpointReadOptions,
  CheckpointRecord,
  CheckpointRedefineOptions,
  CheckpointSummary,
  DomainJobRecord,
  DomainRecord,
  DomainStateName,
  HostRecord,
  LibvirtLivePort,
  LibvirtPort,
  PoolRecord,
  PortCallOptions,
  StartOptions,
} from './libvirt-port.js';

/** Shaped as @unraid/libvirt's LibvirtError (the binding never has a usable code). */
class FakeLibvirtError extends Error {
  readonly code = -1;
  constructor(message: string) {
    super(message);
    this.name = 'LibvirtError';
  }
}

/** A domain's live-copy state: its backup job, checkpoints, bitmaps and guest freeze. */
interface LiveState {
  job: { record: BackupJobRecord; startedAt: number; scratchBytes: number } | undefined;
  /** libvirt's checkpoint metadata, in creation order (parents first). */
  checkpoints: Map<string, CheckpointRecord>;
  /** The dirty bitmaps in the images: bitmap name → disk → bytes dirtied since it was made. */
  bitmaps: Map<string, Map<string, number>>;
  frozen: boolean;
}

interface StoredDomain {
  record: DomainRecord;
  xml: string;
  nvramPath: string;
  live: LiveState;
}

const DEFAULT_HOST: HostRecord = {
  hostname: 'fake-host',
  arch: 'x86_64',
  cpuModel: 'Broadwell',
  cpuFeatures: ['vme', 'ss'],
  cpus: 4,
  memoryBytes: 8 * 1024 ** 3,
  freeMemoryBytes: 6 * 1024 ** 3,
  libvirtVersion: '9.0.0',
  qemuVersion: '7.2.0',
  usableCpuModels: ['qemu64', 'Westmere', 'Broadwell'],
  kvm: true,
};

/** What the fake's guests do with an ACPI power-off request. */
export type GuestShutdownBehaviour = 'poweroff' | 'ignore';

/**
 * How the fake's guest agent answers a freeze or thaw: it works; the domain
 * has no agent channel; the channel is there but no agent runs in the guest;
 * or the agent never answers (the call ends at its timeout).
 */
export type GuestAgentBehaviour = 'ok' | 'not-configured' | 'not-connected' | 'hang';

/** LibvirtPort in memory. */
export class FakeLibvirt implements LibvirtPort, LibvirtLivePort {
  private readonly domains = new Map<string, StoredDomain>();
  private readonly host: HostRecord;
  private readonly pools: PoolRecord[];
  private readonly secrets = new Map<string, string>();
  /** Every port call, in order, as "method name" (for asserting what the service did or did not do). */
  readonly calls: string[] = [];
  /** How guests react to shutdownDomain. */
  guestShutdown: GuestShutdownBehaviour = 'poweroff';
  /** How long an obeying guest takes to power off. */
  shutdownDelayMs = 0;
  /** When true, every call fails as if libvirtd were down. */
  unavailable = false;
  /** What backupSupported answers. */
  backupSupport = true;
  /** How the guest agent answers fsFreeze and fsThaw. */
  guestAgent: GuestAgentBehaviour = 'ok';
  /** How many filesystems the guest agent freezes and thaws. */
  guestFilesystems = 2;

  constructor(options: { host?: Partial<HostRecord>; pools?: PoolRecord[] } = {}) {
    this.host = { ...DEFAULT_HOST, ...options.host };
    this.pools = options.pools ?? [];
  }

  /** Test helper: defines a domain and puts it in a state. */
  async addDomain(xml: string, state: DomainStateName = 'shutoff'): Promise<DomainRecord> {
    const record = await this.defineDomain(xml);
    this.setState(record.name, state);
    return { ...record, state };
  }

  /** Test helper: sets a domain's state as if the guest or an operator had changed it. */
  setState(name: string, state: DomainStateName): void {
    const stored = this.domains.get(name);
    if (!stored) throw new Error(`fake libvirt: no domain ${name}`);
    stored.record.state = state;
  }

  private async run<T>(method: string, subject: string, doing: string, options: PortCallOptions | undefined, fn: () => T | Promise<T>): Promise<T> {
    this.calls.push(subject === '' ? method : `${method} ${subject}`);
    try {
      options?.signal?.throwIfAborted();
      if (this.unavailable) throw new FakeLibvirtError("Failed to connect socket to '/run/libvirt/libvirt-sock': Connection refused");
      return await fn();
    } catch (err) {
      throw libvirtFailure(err, doing);
    }
  }

  private stored(name: string): StoredDomain {
    const stored = this.domains.get(name);
    if (!stored) throw new FakeLibvirtError(`Domain not found: no domain with matching name '${name}'`);
    return stored;
  }

  private requireRunning(stored: StoredDomain): void {
    if (stored.record.state === 'shutoff') throw new FakeLibvirtError('Requested operation is not valid: domain is not running');
  }

  /** Stops a domain (its backup job ends with QEMU); a transient one disappears, as in libvirt. */
  private powerOff(stored: StoredDomain): void {
    stored.record.state = 'shutoff';
    stored.live.job = undefined;
    stored.live.frozen = false;
    if (!stored.record.persistent) this.domains.delete(stored.record.name);
  }

  listDomains(options?: PortCallOptions): Promise<DomainRecord[]> {
    return this.run('listDomains', '', 'list domains', options, () => [...this.domains.values()].map((d) => ({ ...d.record })).sort(byName));
  }

  getDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.run('getDomain', name, `look up domain '${name}'`, options, () => ({ ...this.stored(name).record }));
  }

  getDomainXml(name: string, options?: PortCallOptions): Promise<string> {
    return this.run('getDomainXml', name, `read the XML of domain '${name}'`, options, () => this.stored(name).xml);
  }

  defineDomain(xml: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.run('defineDomain', '', 'define domain', options, () => {
      let facts;
      try {
        facts = readDomainFacts(xml);
      } catch (err) {
        throw new FakeLibvirtError(`XML error: ${err instanceof Error ? err.message : String(err)}`);
      }
      const byName = this.domains.get(facts.name);
      const byUuid = [...this.domains.values()].find((d) => facts.uuid !== '' && d.record.uuid === facts.uuid);
      if (byName && facts.uuid !== '' && byName.record.uuid !== facts.uuid) {
        throw new FakeLibvirtError(`operation failed: domain '${facts.name}' already exists with uuid ${byName.record.uuid}`);
      }
      if (byUuid && byUuid.record.name !== facts.name) {
        throw new FakeLibvirtError(`operation failed: domain '${byUuid.record.name}' is already defined with uuid ${facts.uuid}`);
      }
      const uuid = byName?.record.uuid ?? (facts.uuid || randomUUID());
      const stored: StoredDomain = {
        record: { name: facts.name, uuid, state: byName?.record.state ?? 'shutoff', persistent: true, vcpus: facts.vcpus, memoryBytes: facts.memoryBytes },
        // libvirt writes the UUID it made up into the definition
        xml: facts.uuid === '' ? xml.replace('</name>', `</name><uuid>${uuid}</uuid>`) : xml,
        nvramPath: facts.nvramPath,
        live: byName?.live ?? { job: undefined, checkpoints: new Map(), bitmaps: new Map(), frozen: false },
      };
      this.domains.set(facts.name, stored);
      return { ...stored.record };
    });
  }

  startDomain(name: string, options?: StartOptions): Promise<DomainRecord> {
    return this.run('startDomain', name, `start domain '${name}'`, options, () => {
      const stored = this.stored(name);
      if (stored.record.state !== 'shutoff') throw new FakeLibvirtError('Requested operation is not valid: domain is already running');
      stored.record.state = options?.paused ? 'paused' : 'running';
      return { ...stored.record };
    });
  }

  resumeDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.run('resumeDomain', name, `resume domain '${name}'`, options, () => {
      const stored = this.stored(name);
      if (stored.record.state !== 'paused') throw new FakeLibvirtError('Requested operation is not valid: domain is not paused');
      stored.record.state = 'running';
      return { ...stored.record };
    });
  }

  shutdownDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.run('shutdownDomain', name, `shut down domain '${name}'`, options, () => {
      const stored = this.stored(name);
      this.requireRunning(stored);
      if (this.guestShutdown === 'poweroff') {
        if (this.shutdownDelayMs === 0) this.powerOff(stored);
        else setTimeout(() => this.powerOff(stored), this.shutdownDelayMs).unref();
      }
      return { ...stored.record };
    });
  }

  destroyDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.run('destroyDomain', name, `destroy domain '${name}'`, options, () => {
      const stored = this.stored(name);
      this.requireRunning(stored);
      this.powerOff(stored);
      return { ...stored.record };
    });
  }

  undefineDomain(name: string, removeNvram: boolean, options?: PortCallOptions): Promise<void> {
    return this.run('undefineDomain', `${name} nvram=${removeNvram ? 'remove' : 'keep'}`, `undefine domain '${name}'`, options, async () => {
      const stored = this.stored(name);
      if (!stored.record.persistent) throw new FakeLibvirtError('Requested operation is not valid: cannot undefine transient domain');
      // libvirt deletes the variable store itself when asked (virsh undefine --nvram)
      if (removeNvram && stored.nvramPath !== '') await rm(stored.nvramPath, { force: true });
      if (stored.record.state === 'shutoff') this.domains.delete(name);
      else stored.record.persistent = false;
    });
  }

  hostFacts(options?: PortCallOptions): Promise<HostRecord> {
    return this.run('hostFacts', '', 'read host facts', options, () => ({ ...this.host, cpuFeatures: [...this.host.cpuFeatures] }));
  }

  /** Test helper: a libvirt secret of `usage` type with this UUID exists (its value is never modelled). */
  addSecret(uuid: string, usage = 'vtpm'): void {
    this.secrets.set(uuid.toLowerCase(), usage);
  }

  secretUsage(uuid: string, options?: PortCallOptions): Promise<string | undefined> {
    return this.run('secretUsage', '', 'read secret', options, () => this.secrets.get(uuid.toLowerCase()));
  }

  listPools(options?: PortCallOptions): Promise<PoolRecord[]> {
    return this.run('listPools', '', 'list storage pools', options, () => this.pools.map((p) => ({ ...p })));
  }

  // --- Live copies (LibvirtLivePort) ---

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

  /** The image format of each disk (not CD-ROMs: they take part in neither jobs nor checkpoints here), from the definition. */
  private diskFormats(stored: StoredDomain): Map<string, string> {
    return new Map(
      readDomainFacts(stored.xml)
        .disks.filter((d) => d.device === 'disk')
        .map((d) => [d.target, d.format]),
    );
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
      const formats = this.diskFormats(stored);
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
      const checkpoint = checkpointXml === undefined ? undefined : this.newCheckpoint(stored, checkpointXml, formats);
      if (checkpoint) this.addCheckpoint(live, checkpoint);
      const record: BackupJobRecord = { mode: 'pull', incremental: base, socket: request.socket, disks };
      live.job = { record, startedAt: Date.now(), scratchBytes: 0 };
      return structuredClone(record);
    });
  }

  /** A checkpoint a job (or checkpoint-create) would make: libvirt's checks, parent = the latest checkpoint. */
  private newCheckpoint(stored: StoredDomain, xml: string, formats: Map<string, string>): CheckpointRecord {
    const spec = parseCheckpointXml(xml);
    const live = stored.live;
    if (live.checkpoints.has(spec.name)) throw new FakeLibvirtError(`operation failed: domain moment ${spec.name} already exists`);
    // <disks> left out: every disk; listed: the others are not tracked
    const requested = spec.disks.length > 0 ? new Map(spec.disks.map((d) => [d.target, d.tracked])) : new Map([...formats.keys()].map((t) => [t, true]));
    for (const target of requested.keys()) if (!formats.has(target)) throw new FakeLibvirtError(`unsupported configuration: no disk named '${target}'`);
    const disks = [...formats].map(([target, format]) => {
      const tracked = requested.get(target) ?? false;
      if (tracked && format !== 'qcow2') throw new FakeLibvirtError(`unsupported configuration: checkpoint for disk ${target} unsupported for storage type ${format || 'raw'}`);
      return { target, tracked, bitmap: tracked ? spec.name : '', sizeBytes: undefined };
    });
    return { name: spec.name, description: spec.description, parent: [...live.checkpoints.keys()].at(-1) ?? '', creationTime: Math.floor(Date.now() / 1000), disks };
  }

  private addCheckpoint(live: LiveState, checkpoint: CheckpointRecord): void {
    live.checkpoints.set(checkpoint.name, checkpoint);
    live.bitmaps.set(checkpoint.name, new Map(checkpoint.disks.filter((d) => d.tracked).map((d) => [d.target, 0])));
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

  /** The checkpoint with its dirty sizes when asked (none for a lost bitmap, as libvirt). */
  private checkpointOf(stored: StoredDomain, name: string, size: boolean): CheckpointRecord {
    validCheckpointName(name);
    const checkpoint = stored.live.checkpoints.get(name);
    if (!checkpoint) throw new FakeLibvirtError(`Domain checkpoint not found: no domain checkpoint with matching name '${name}'`);
    if (size) this.requireRunning(stored);
    const bitmaps = stored.live.bitmaps;
    return {
      ...checkpoint,
      disks: checkpoint.disks.map((d) => ({ ...d, sizeBytes: size && d.tracked ? bitmaps.get(d.bitmap)?.get(d.target) : undefined })),
    };
  }

  checkpointXml(domain: string, name: string, options?: CheckpointReadOptions): Promise<string> {
    return this.run('checkpointXml', `${domain} ${name}`, `read checkpoint '${name}' of domain '${domain}'`, options, () => {
      const c = this.checkpointOf(this.stored(domain), name, options?.size ?? false);
      const disks = c.disks.map((d) =>
        d.tracked
          ? `    <disk name='${escapeXml(d.target)}' checkpoint='bitmap' bitmap='${escapeXml(d.bitmap)}'${d.sizeBytes === undefined ? '' : ` size='${d.sizeBytes}'`}/>`
          : `    <disk name='${escapeXml(d.target)}' checkpoint='no'/>`,
      );
      return [
        '<domaincheckpoint>',
        `  <name>${escapeXml(c.name)}</name>`,
        ...(c.description === '' ? [] : [`  <description>${escapeXml(c.description)}</description>`]),
        ...(c.parent === '' ? [] : ['  <parent>', `    <name>${escapeXml(c.parent)}</name>`, '  </parent>']),
        `  <creationTime>${c.creationTime}</creationTime>`,
        '  <disks>',
        ...disks,
        '  </disks>',
        '</domaincheckpoint>',
        '',
      ].join('\n');
    });
  }

  getCheckpoint(domain: string, name: string, options?: CheckpointReadOptions): Promise<CheckpointRecord> {
    return this.run('getCheckpoint', `${domain} ${name}`, `read checkpoint '${name}' of domain '${domain}'`, options, () =>
      structuredClone(this.checkpointOf(this.stored(domain), name, options?.size ?? false)),
    );
  }

  deleteCheckpoint(domain: string, name: string, options?: CheckpointDeleteOptions): Promise<void> {
    const metadataOnly = options?.metadataOnly ?? false;
    const doing = `delete checkpoint '${name}' of domain '${domain}'${metadataOnly ? ' (metadata only)' : ''}`;
    return this.run('deleteCheckpoint', `${domain} ${name}${metadataOnly ? ' metadata' : ''}`, doing, options, () => {
      const stored = this.stored(domain);
      const live = stored.live;
      const checkpoint = this.checkpointOf(stored, name, false);
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

  redefineCheckpoint(domain: string, xml: string, options?: CheckpointRedefineOptions): Promise<void> {
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
        this.requireRunning(stored);
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
      this.requireRunning(stored);
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

  /** Nothing to release: the fake holds no connection. */
  async close(): Promise<void> {
    this.calls.push('close');
  }
}
