/**
 * The one door to libvirt. Services talk to this interface only; the real
 * adapter (libvirt-adapter.ts: @unraid/libvirt for domain calls, virsh for
 * the rest) and the in-memory fake for unit tests (fake-libvirt.ts) implement
 * it. Implementations throw KvmcloneError with the right code (NOT_FOUND for
 * an unknown domain, UNAVAILABLE when libvirtd is down, ...): libvirt's own
 * error numbers never leave the adapter.
 */

/** libvirt domain states, lower-case as virsh prints them. */
export type DomainStateName =
  | 'nostate'
  | 'running'
  | 'blocked'
  | 'paused'
  | 'shutdown'
  | 'shutoff'
  | 'crashed'
  | 'pmsuspended';

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

/** The libvirt operations kvmclone needs, nothing more. */
export interface LibvirtPort {
  listDomains(options?: PortCallOptions): Promise<DomainRecord[]>;
  /** NOT_FOUND when there is no such domain. */
  getDomain(name: string, options?: PortCallOptions): Promise<DomainRecord>;
  /** The persistent definition if there is one (inactive XML), else the live XML. */
  getDomainXml(name: string, options?: PortCallOptions): Promise<string>;
  /** Defines (or redefines) a persistent domain; ALREADY_EXISTS if the name or UUID belongs to another domain. */
  defineDomain(xml: string, options?: PortCallOptions): Promise<DomainRecord>;
  startDomain(name: string, options?: PortCallOptions): Promise<DomainRecord>;
  /** Asks the guest to power off (ACPI); returns at once. */
  shutdownDomain(name: string, options?: PortCallOptions): Promise<DomainRecord>;
  /** Powers the domain off at once. */
  destroyDomain(name: string, options?: PortCallOptions): Promise<DomainRecord>;
  /** Removes the definition (and libvirt's NVRAM file when `removeNvram`); never touches disks. */
  undefineDomain(name: string, removeNvram: boolean, options?: PortCallOptions): Promise<void>;
  hostFacts(options?: PortCallOptions): Promise<HostRecord>;
  listPools(options?: PortCallOptions): Promise<PoolRecord[]>;
  /** Releases the connection. */
  close(): Promise<void>;
}
