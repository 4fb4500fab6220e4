/**
 * The domain half of FakeLibvirt (fake-libvirt.ts, whose comment says how
 * the fake behaves): domains defined from XML, their states and power, host
 * facts, secrets and pools, and the call log and failure switch every call
 * goes through. Kept apart from the live copies, which FakeLibvirt adds.
 */
import { byName } from './by-name.js';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { readDomainFacts } from './domain-xml.js';
import { FakeLibvirtError, requireRunning, type StoredDomain } from './fake-libvirt-state.js';
import { libvirtFailure } from './libvirt-errors.js';
import type { DomainRecord, DomainStateName, HostRecord, LibvirtPort, PoolRecord, PortCallOptions, StartOptions } from './libvirt-port.js';

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
 * LibvirtPort in memory: domains, host facts, secrets and pools, and the
 * call log, failure switch and guest power-off that tests drive. FakeLibvirt
 * adds the live copies (LibvirtLivePort) on the same domains.
 */
export class FakeLibvirtDomains implements LibvirtPort {
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

  /** One port call: recorded in `calls`, refused when aborted or `unavailable`, failures mapped as the adapter maps them. */
  protected async run<T>(method: string, subject: string, doing: string, options: PortCallOptions | undefined, fn: () => T | Promise<T>): Promise<T> {
    this.calls.push(subject === '' ? method : `${method} ${subject}`);
    try {
      options?.signal?.throwIfAborted();
      if (this.unavailable) throw new FakeLibvirtError("Failed to connect socket to '/run/libvirt/libvirt-sock': Connection refused");
      return await fn();
    } catch (err) {
      throw libvirtFailure(err, doing);
    }
  }

  /** The domain named `name`, or libvirt's "Domain not found". */
  protected stored(name: string): StoredDomain {
    const stored = this.domains.get(name);
    if (!stored) throw new FakeLibvirtError(`Domain not found: no domain with matching name '${name}'`);
    return stored;
  }

  /** Stops a domain (its backup job ends with QEMU); a transient one disappears, as in libvirt. */
  protected powerOff(stored: StoredDomain): void {
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
      requireRunning(stored);
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
      requireRunning(stored);
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

  /** Nothing to release: the fake holds no connection. */
  async close(): Promise<void> {
    this.calls.push('close');
  }
}
