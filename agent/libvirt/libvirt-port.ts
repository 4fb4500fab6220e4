/**
 * The one door to libvirt. Services talk to this interface only; the real
 * adapter (libvirt-adapter.ts: @unraid/libvirt for domain calls, virsh for
 * the rest) and the in-memory fake for unit tests (fake-libvirt.ts) implement
 * it. Implementations throw KvmcloneError with the right code (NOT_FOUND for
 * an unknown domain, UNAVAILABLE when libvirtd is down, ...): libvirt's own
 * error numbers never leave the adapter.
 */

/** libvirt domain states, lower-case as virsh prints them. */
export type DomainStateName = 'nostate' | 'running' | 'blocked' | 'paused' | 'shutdown' | 'shutoff' | 'crashed' | 'pmsuspended';

/** Summary of one domain. */
export interface DomainRecord {
  name: string;
  uuid: string;
  state: DomainStateName;
  persistent: boolean;
  vcpus: number;
  memoryBytes: number;
}

/** What the host can run, for preflight on the destination. */
export interface HostRecord {
  hostname: string;
  arch: string;
  cpuModel: string;
  cpuFeatures: string[];
  cpus: number;
  memoryBytes: number;
  freeMemoryBytes: number;
  libvirtVersion: string;
  qemuVersion: string;
  /** Named CPU models a guest can be given on this host. */
  usableCpuModels: string[];
  /** Whether KVM guests can run here. */
  kvm: boolean;
}

/** A libvirt storage pool. */
export interface PoolRecord {
  name: string;
  uuid: string;
  type: string;
  path: string;
  active: boolean;
  autostart: boolean;
  capacityBytes: number;
  allocationBytes: number;
  availableBytes: number;
}

/** Options of every port call. */
export interface PortCallOptions {
  signal?: AbortSignal;
}

/** Options of startDomain. */
export interface StartOptions extends PortCallOptions {
  /** Start with the CPUs paused (virsh start --paused). */
  paused?: boolean;
}

/** The libvirt operations kvmclone needs, nothing more. */
export interface LibvirtPort {
  listDomains(options?: PortCallOptions): Promise<DomainRecord[]>;
  /** NOT_FOUND when there is no such domain. */
  getDomain(name: string, options?: PortCallOptions): Promise<DomainRecord>;
  /** The persistent definition if there is one (inactive XML), else the live XML. */
  getDomainXml(name: string, options?: PortCallOptions): Promise<string>;
  /** Defines (or redefines) a persistent domain; ALREADY_EXISTS if the name or UUID belongs to another domain. */
  defineDomain(xml: string, options?: PortCallOptions): Promise<DomainRecord>;
  /** Starts the domain; with `paused`, its CPUs stay stopped until resumeDomain (the guest has not run yet). */
  startDomain(name: string, options?: StartOptions): Promise<DomainRecord>;
  /** Lets a paused domain run. */
  resumeDomain(name: string, options?: PortCallOptions): Promise<DomainRecord>;
  /** Asks the guest to power off (ACPI); returns at once. */
  shutdownDomain(name: string, options?: PortCallOptions): Promise<DomainRecord>;
  /** Powers the domain off at once. */
  destroyDomain(name: string, options?: PortCallOptions): Promise<DomainRecord>;
  /** Removes the definition (and libvirt's NVRAM file when `removeNvram`); never touches disks. */
  undefineDomain(name: string, removeNvram: boolean, options?: PortCallOptions): Promise<void>;
  hostFacts(options?: PortCallOptions): Promise<HostRecord>;
  listPools(options?: PortCallOptions): Promise<PoolRecord[]>;
  /** The usage type ("vtpm", "volume", ...) of the libvirt secret `uuid`, or undefined when this host has none; its value is never read. */
  secretUsage(uuid: string, options?: PortCallOptions): Promise<string | undefined>;
  /** Releases the connection. */
  close(): Promise<void>;
}

/** One disk of a backup job, as `virsh backup-dumpxml` describes it. */
export interface BackupJobDisk {
  /** Guest target, e.g. `vdb`. */
  target: string;
  /** Whether the job exports this disk. */
  backup: boolean;
  /** `full` or `incremental` for an exported disk, '' otherwise. */
  mode: string;
  /** Checkpoint this disk's export is incremental from, or ''. */
  incremental: string;
  /** NBD export name ('' for a disk not exported). */
  exportName: string;
  /** Dirty bitmap of an incremental export, read as NBD meta context `qemu:dirty-bitmap:<exportBitmap>`; '' for full. */
  exportBitmap: string;
  /** Scratch file (or block device) QEMU copies overwritten blocks to, or ''. */
  scratch: string;
}

/** A domain's running backup job. */
export interface BackupJobRecord {
  /** `pull` (an NBD server) or `push`. */
  mode: string;
  /** Checkpoint the job is incremental from, or '' (full). */
  incremental: string;
  /** Unix socket of the NBD server, or '' (TCP, or push mode). */
  socket: string;
  disks: BackupJobDisk[];
}

/** One disk of a checkpoint. */
export interface CheckpointDisk {
  /** Guest target (libvirt may also name a disk by its source path). */
  target: string;
  /** Whether the checkpoint tracks this disk with a dirty bitmap. */
  tracked: boolean;
  /** Name of the dirty bitmap in the image, or ''. */
  bitmap: string;
  /** Bytes dirtied since the checkpoint (`--size`, running domains only); undefined when not asked or unknown (a broken bitmap). */
  sizeBytes: number | undefined;
}

/** A checkpoint, parsed from `virsh checkpoint-dumpxml`. */
export interface CheckpointRecord {
  name: string;
  description: string;
  /** The checkpoint before it, or '' (a root). */
  parent: string;
  /** Seconds since the epoch. */
  creationTime: number;
  disks: CheckpointDisk[];
}

/** A checkpoint in a list: name, parent and age only. */
export interface CheckpointSummary {
  name: string;
  /** '' for a root. */
  parent: string;
  /** Seconds since the epoch. */
  creationTime: number;
}

/** A job running on a domain (backup, migration, dump, ...), from `virsh domjobinfo`. */
export interface DomainJobRecord {
  /** `bounded` or `unbounded` (a pull-mode backup is unbounded: it runs until aborted). */
  type: string;
  /** `backup`, `migration-out`, `snapshot`, `dump`, ... or `unknown`. */
  operation: string;
  elapsedMs: number;
  /** Scratch space a backup job uses now, and at most (the exported disks' size); undefined for other jobs. */
  tempUsedBytes: number | undefined;
  tempTotalBytes: number | undefined;
}

/** Options of checkpoint reads. */
export interface CheckpointReadOptions extends PortCallOptions {
  /** Adds each disk's dirty bytes (a running domain only). */
  size?: boolean;
}

/** Options of checkpoint deletion. */
export interface CheckpointDeleteOptions extends PortCallOptions {
  /** Forgets libvirt's metadata only and leaves the bitmaps in the images (for a checkpoint to be redefined later, or whose bitmaps are broken). */
  metadataOnly?: boolean;
}

/** Options of checkpoint redefinition. */
export interface CheckpointRedefineOptions extends PortCallOptions {
  /** Checks that the bitmaps exist and are consistent (default true; needs a running domain). */
  validate?: boolean;
}

/**
 * What live (running-VM) clone and sync need from libvirt: backup jobs in
 * pull mode, checkpoints (dirty bitmaps in qcow2 images), and the guest
 * agent's filesystem freeze. A separate interface from LibvirtPort so that
 * services which only manage domains do not depend on it; the adapter and
 * the fake implement both (`LibvirtPort & LibvirtLivePort`).
 */
export interface LibvirtLivePort {
  /** Whether QEMU here can run backup jobs (`<backup supported='yes'/>` in domain capabilities). */
  backupSupported(options?: PortCallOptions): Promise<boolean>;
  /** The job running on the domain, or undefined (none, or the domain is not running). */
  domainJob(domain: string, options?: PortCallOptions): Promise<DomainJobRecord | undefined>;
  /**
   * Begins a backup job (XML from backup-xml.ts), creating the checkpoint
   * described by `checkpointXml` at the same instant when one is given.
   * ABORTED when the domain already runs a job. Resolves with the job as
   * libvirt reports it. The job runs until abortJob: end it on every path.
   */
  backupBegin(domain: string, backupXml: string, checkpointXml: string | undefined, options?: PortCallOptions): Promise<BackupJobRecord>;
  /** The domain's backup job, or undefined when it has none. */
  backupJob(domain: string, options?: PortCallOptions): Promise<BackupJobRecord | undefined>;
  /**
   * Ends the domain's backup job and waits until libvirt has removed its
   * NBD server and scratch files. False when there was no job;
   * FAILED_PRECONDITION when the running job is not a backup (never aborts
   * a migration).
   */
  abortJob(domain: string, options?: PortCallOptions): Promise<boolean>;
  /** The domain's checkpoints, parents before children. */
  listCheckpoints(domain: string, options?: PortCallOptions): Promise<CheckpointSummary[]>;
  /** A checkpoint's XML as libvirt gives it (with the domain definition): what redefineCheckpoint takes back. NOT_FOUND when unknown. */
  checkpointXml(domain: string, name: string, options?: CheckpointReadOptions): Promise<string>;
  /** A checkpoint, parsed. NOT_FOUND when unknown. */
  getCheckpoint(domain: string, name: string, options?: CheckpointReadOptions): Promise<CheckpointRecord>;
  /** Deletes a checkpoint (its bitmaps merge into its parent's). NOT_FOUND when unknown. */
  deleteCheckpoint(domain: string, name: string, options?: CheckpointDeleteOptions): Promise<void>;
  /** Gives libvirt back a checkpoint's metadata from XML saved earlier (after a migration, a restore, a lost /var/lib/libvirt). */
  redefineCheckpoint(domain: string, xml: string, options?: CheckpointRedefineOptions): Promise<void>;
  /**
   * Freezes the guest's filesystems through the guest agent; resolves with
   * how many. FAILED_PRECONDITION (isGuestAgentUnavailable) without a
   * guest agent; DEADLINE_EXCEEDED after `timeoutMs` — libvirt may then
   * still complete the freeze, so thaw.
   */
  fsFreeze(domain: string, timeoutMs: number, options?: PortCallOptions): Promise<number>;
  /** Thaws the guest's filesystems; errors as fsFreeze. */
  fsThaw(domain: string, timeoutMs: number, options?: PortCallOptions): Promise<number>;
}

/**
 * The arguments of live call `K`, as LibvirtLivePort declares them. The
 * implementations take `...[domain, name, options]: LiveCallArgs<'getCheckpoint'>`
 * where a call has an option type of its own, so that each call's
 * signature is written here once instead of restated (and imported) by the
 * adapter and by the fake.
 */
export type LiveCallArgs<K extends keyof LibvirtLivePort> = Parameters<LibvirtLivePort[K]>;
