/**
 * The real LibvirtPort: `@unraid/libvirt` (N-API, one connection) for the
 * domain calls it has, and `virsh -c URI` (virsh-runner.ts) for what it
 * lacks — storage pools, host capabilities and versions, memory statistics,
 * undefine with NVRAM and TPM flags. It is the real LibvirtLivePort too:
 * backup jobs, checkpoints and the guest agent's freeze are in
 * libvirt-live-adapter.ts, which it hands its virsh runner, its domain UUID
 * lookup and its cached domain capabilities, and delegates to.
 *
 * The connection opens on first use. When libvirtd restarts, the next call on
 * the old connection fails at once ("client socket is closed", "Cannot write
 * data"); the adapter then drops it, connects anew and runs the call again,
 * waiting for a libvirtd that is still coming back (libvirtd-wait.ts). A call
 * cut off while libvirtd was processing it is retried too: for a start or
 * destroy that already happened, the retry reports the domain's new state as
 * FAILED_PRECONDITION, never a second action.
 *
 * The binding's calls cannot be cancelled: a call whose signal aborts rejects
 * at once, and libvirt's worker thread finishes on its own.
 */
import { byName } from './by-name.js';
import { raceSignal } from '../../shared/race-signal.js';
import { Hypervisor, ConnectListAllDomainsFlags, DomainGetXMLDescFlags, DomainState, type Domain } from '@unraid/libvirt';
import type { Logger } from 'pino';
import { KvmcloneError } from '../../shared/errors.js';
import { parseXml } from '../../shared/xml/parse-xml.js';
import { attr, child, childrenNamed, textContent } from '../../shared/xml/xml-tree.js';
import { definitionFailure, isConnectionError, isNoDomain, isNoSecret, libvirtFailure } from './libvirt-errors.js';
import { LibvirtLiveAdapter } from './libvirt-live-adapter.js';
import type {
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
import { VirshRunner } from './virsh-runner.js';
import { LIBVIRTD_WAIT_MS, whileLibvirtdRestarts } from './libvirtd-wait.js';

const STATE_NAMES: Readonly<Record<number, DomainStateName>> = {
  [DomainState.NOSTATE]: 'nostate',
  [DomainState.RUNNING]: 'running',
  [DomainState.BLOCKED]: 'blocked',
  [DomainState.PAUSED]: 'paused',
  [DomainState.SHUTDOWN]: 'shutdown',
  [DomainState.SHUTOFF]: 'shutoff',
  [DomainState.CRASHED]: 'crashed',
  [DomainState.PMSUSPENDED]: 'pmsuspended',
};

/** Thrown by a connection that was closed between being handed out and being used: the call takes a fresh one. */
class ConnectionClosed extends Error {}

/** One open connection and the calls running on it; closed once dropped and idle. */
class Connection {
  private inflight = 0;
  private dropped = false;
  private closed = false;

  constructor(readonly hypervisor: Hypervisor) {}

  async use<T>(fn: (h: Hypervisor) => Promise<T>): Promise<T> {
    // checked and counted in the same tick, so it cannot be closed under the call
    if (this.closed) throw new ConnectionClosed('libvirt connection already closed');
    this.inflight += 1;
    try {
      return await fn(this.hypervisor);
    } finally {
      this.inflight -= 1;
      this.closeIfIdle();
    }
  }

  /** Marks the connection dead; it is closed when its last call returns (virConnectClose under a running call is unsafe). */
  drop(): void {
    this.dropped = true;
    this.closeIfIdle();
  }

  private closeIfIdle(): void {
    if (this.dropped && this.inflight === 0 && !this.closed) {
      this.closed = true;
      this.hypervisor.connectClose().catch(() => undefined);
    }
  }
}

/** How long libvirt's versions and capabilities are reused by hostFacts. */
const STATIC_FACTS_MS = 60_000;

/** LibvirtPort and LibvirtLivePort on a real libvirtd. */
export class LibvirtAdapter implements LibvirtPort, LibvirtLivePort {
  private readonly uri: string;
  private readonly log: Logger;
  private readonly virsh: VirshRunner;
  private readonly live: LibvirtLiveAdapter;
  private current: Connection | undefined;
  private connecting: Promise<Connection> | undefined;
  private cachedFacts: { at: number; value: Promise<[string, string, string]> } | undefined;
  private readonly libvirtdWaitMs: number;

  /**
   * @param options.libvirtdWaitMs how long a call waits for a restarting
   *   libvirtd before it fails UNAVAILABLE (LIBVIRTD_WAIT_MS by default)
   */
  constructor(options: { uri: string; log: Logger; libvirtdWaitMs?: number }) {
    this.uri = options.uri;
    this.log = options.log.child({ component: 'libvirt' });
    this.libvirtdWaitMs = options.libvirtdWaitMs ?? LIBVIRTD_WAIT_MS;
    this.virsh = new VirshRunner(this.uri, this.libvirtdWaitMs, this.log);
    this.live = new LibvirtLiveAdapter({
      virsh: this.virsh,
      log: this.log,
      domainUuid: (name, doing, callOptions) => this.domainUuid(name, doing, callOptions),
      domainCapabilities: async (callOptions) => (await this.staticFacts(callOptions))[2],
    });
  }

  private connection(): Promise<Connection> {
    if (this.current) return Promise.resolve(this.current);
    this.connecting ??= (async () => {
      const hypervisor = new Hypervisor({ uri: this.uri });
      try {
        await hypervisor.connectOpen();
      } catch (err) {
        throw libvirtFailure(err, `connect to ${this.uri}`);
      } finally {
        this.connecting = undefined;
      }
      this.current = new Connection(hypervisor);
      this.log.info({ uri: this.uri }, 'connected to libvirtd');
      return this.current;
    })();
    return this.connecting;
  }

  /** Runs a binding call, reconnecting once if the connection turns out to be dead. */
  private async call<T>(doing: string, options: PortCallOptions | undefined, fn: (h: Hypervisor) => Promise<T>): Promise<T> {
    const attempt = async (): Promise<T> => {
      const connection = await this.connection();
      try {
        return await connection.use(fn);
      } catch (err) {
        if (isConnectionError(err) && this.current === connection) {
          this.current = undefined;
          connection.drop();
        }
        throw err;
      }
    };
    const once = async (): Promise<T> => {
      try {
        return await attempt();
      } catch (err) {
        if (err instanceof ConnectionClosed) return await attempt();
        throw err;
      }
    };
    const run = whileLibvirtdRestarts(once, {
      waitMs: this.libvirtdWaitMs,
      signal: options?.signal,
      onRetry: (err, pauseMs, tries) => this.log.warn({ err: String(err), doing, pauseMs, tries }, 'libvirt connection lost: reconnecting'),
    });
    try {
      return await raceSignal(run, options?.signal);
    } catch (err) {
      throw libvirtFailure(err, doing);
    }
  }

  /** The UUID virsh is given for a domain (virsh would take a name such as "12" as a running domain's ID). */
  private domainUuid(name: string, doing: string, options?: PortCallOptions): Promise<string> {
    return this.call(doing, options, async (h) => (await h.domainLookupByName(name)).getUUIDString());
  }

  private async uuidsOf(h: Hypervisor, flags: ConnectListAllDomainsFlags): Promise<Set<string>> {
    const domains = await h.connectListAllDomains(flags);
    return new Set(await Promise.all(domains.map((d) => d.getUUIDString())));
  }

  private async record(domain: Domain, persistent: (uuid: string, state: DomainStateName) => Promise<boolean>): Promise<DomainRecord> {
    const [name, uuid, info] = await Promise.all([domain.getName(), domain.getUUIDString(), domain.getInfo()]);
    const state = STATE_NAMES[info.state] ?? 'nostate';
    return { name, uuid, state, persistent: await persistent(uuid, state), vcpus: info.nrVirtCpu, memoryBytes: info.maxMem * 1024 };
  }

  /** Persistence of one domain: an inactive domain always is; an active one if libvirt lists it as persistent. */
  private persistence(h: Hypervisor): (uuid: string, state: DomainStateName) => Promise<boolean> {
    return async (uuid, state) => state === 'shutoff' || (await this.uuidsOf(h, ConnectListAllDomainsFlags.ACTIVE | ConnectListAllDomainsFlags.PERSISTENT)).has(uuid);
  }

  private lookupRecord(h: Hypervisor, name: string): Promise<DomainRecord> {
    return h.domainLookupByName(name).then((d) => this.record(d, this.persistence(h)));
  }

  async listDomains(options?: PortCallOptions): Promise<DomainRecord[]> {
    return this.call('list domains', options, async (h) => {
      const [all, persistent] = await Promise.all([
        h.connectListAllDomains(ConnectListAllDomainsFlags.ACTIVE | ConnectListAllDomainsFlags.INACTIVE),
        this.uuidsOf(h, ConnectListAllDomainsFlags.PERSISTENT),
      ]);
      const records = await Promise.all(
        all.map((d) =>
          this.record(d, async (uuid) => persistent.has(uuid)).catch((err: unknown) => {
            if (isNoDomain(err)) return undefined; // went away while listing
            throw err;
          }),
        ),
      );
      return records.filter((r): r is DomainRecord => r !== undefined).sort(byName);
    });
  }

  async getDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.call(`look up domain '${name}'`, options, (h) => this.lookupRecord(h, name));
  }

  async getDomainXml(name: string, options?: PortCallOptions): Promise<string> {
    return this.call(`read the XML of domain '${name}'`, options, async (h) => {
      const domain = await h.domainLookupByName(name);
      return domain.getXMLDesc(DomainGetXMLDescFlags.INACTIVE);
    });
  }

  async defineDomain(xml: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.call('define domain', options, async (h) => {
      const domain = await h.domainDefineXML(xml).catch((err: unknown) => {
        throw definitionFailure(err, 'define domain');
      });
      return this.record(domain, this.persistence(h));
    });
  }

  async startDomain(name: string, options?: StartOptions): Promise<DomainRecord> {
    if (options?.paused) {
      // The binding has no createWithFlags: virsh, given the UUID (see undefineDomain).
      const doing = `start domain '${name}' paused`;
      const uuid = await this.domainUuid(name, doing, options);
      await this.virsh.run(doing, ['start', '--paused', '--domain', uuid], options);
      return this.getDomain(name, options);
    }
    return this.call(`start domain '${name}'`, options, async (h) => {
      await (await h.domainLookupByName(name)).create();
      return this.lookupRecord(h, name);
    });
  }

  async resumeDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.call(`resume domain '${name}'`, options, async (h) => {
      await (await h.domainLookupByName(name)).resume();
      return this.lookupRecord(h, name);
    });
  }

  async shutdownDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.call(`shut down domain '${name}'`, options, async (h) => {
      await (await h.domainLookupByName(name)).shutdown();
      return this.lookupRecord(h, name);
    });
  }

  async destroyDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.call(`destroy domain '${name}'`, options, async (h) => {
      const domain = await h.domainLookupByName(name);
      const before = await this.record(domain, this.persistence(h));
      await domain.destroy();
      // a transient domain is gone once destroyed
      return this.lookupRecord(h, name).catch((err: unknown) => {
        if (isNoDomain(err)) return { ...before, state: 'shutoff' as const };
        throw err;
      });
    });
  }

  /**
   * virsh, for the flags the binding lacks: NVRAM removed or kept as asked,
   * TPM state always kept (the caller decides). virsh is given the UUID, not
   * the name: it tries a domain argument as an ID first, then as a UUID, so a
   * domain named "12" would otherwise reach whichever domain runs with ID 12.
   */
  async undefineDomain(name: string, removeNvram: boolean, options?: PortCallOptions): Promise<void> {
    const doing = `undefine domain '${name}'`;
    const uuid = await this.domainUuid(name, doing, options);
    await this.virsh.run(doing, ['undefine', '--domain', uuid, removeNvram ? '--nvram' : '--keep-nvram', '--keep-tpm'], options);
  }

  /**
   * Versions, host and domain capabilities: three virsh runs (~50–90 ms on
   * the testbed) whose answers change only when libvirtd or the host does,
   * kept for STATIC_FACTS_MS so every operation's GetInfo does not pay them.
   */
  private staticFacts(options?: PortCallOptions): Promise<[string, string, string]> {
    const now = Date.now();
    if (this.cachedFacts === undefined || now - this.cachedFacts.at > STATIC_FACTS_MS) {
      const value = Promise.all([
        this.virsh.run('read versions', ['version', '--daemon'], options),
        this.virsh.run('read host capabilities', ['capabilities'], options),
        // Which named CPU models a guest can be given here (for the clone's CPU preflight).
        this.virsh.run('read domain capabilities', ['domcapabilities'], options).catch((err: unknown) => {
          if (err instanceof Error && /not supported|unsupported/i.test(err.message)) return '';
          throw err;
        }),
      ]);
      const entry = { at: now, value };
      this.cachedFacts = entry;
      // A failure is not kept: the next call asks again.
      value.catch(() => {
        if (this.cachedFacts === entry) this.cachedFacts = undefined;
      });
    }
    return this.cachedFacts.value;
  }

  async hostFacts(options?: PortCallOptions): Promise<HostRecord> {
    const [node, [version, capabilities, domcaps], memory] = await Promise.all([
      this.call('read host facts', options, async (h) => ({ hostname: await h.connectGetHostname(), info: await h.nodeGetInfo() })),
      this.staticFacts(options),
      // Drivers without memory statistics (e.g. test:///) fall back to virNodeGetInfo below.
      this.virsh.run('read host memory', ['nodememstats'], options).catch((err: unknown) => {
        if (err instanceof Error && /not supported/.test(err.message)) return '';
        throw err;
      }),
    ]);
    const customMode = domcaps ? childrenNamed(child(parseXml(domcaps, 'virsh domcapabilities'), 'cpu'), 'mode').find((m) => attr(m, 'name') === 'custom') : undefined;
    const usableCpuModels = childrenNamed(customMode, 'model')
      .filter((m) => attr(m, 'usable') === 'yes')
      .map((m) => textContent(m).trim());
    const caps = parseXml(capabilities, 'virsh capabilities');
    const kvm = childrenNamed(caps, 'guest').some((g) => childrenNamed(child(g, 'arch'), 'domain').some((d) => attr(d, 'type') === 'kvm'));
    const cpu = child(child(caps, 'host'), 'cpu');
    const kib = (key: string): number => Number(/^(\S+)\s*:\s*(\d+) KiB$/m.exec(memory.split('\n').find((l) => l.startsWith(key)) ?? '')?.[2] ?? 0) * 1024;
    return {
      hostname: node.hostname,
      arch: textContent(child(cpu, 'arch')).trim(),
      cpuModel: textContent(child(cpu, 'model')).trim(),
      cpuFeatures: childrenNamed(cpu, 'feature').map((f) => attr(f, 'name')),
      cpus: node.info.cpus,
      // virNodeGetMemoryStats reads MemTotal/MemFree; virNodeGetInfo can count NUMA node 0 only
      memoryBytes: kib('total') || node.info.memory * 1024,
      freeMemoryBytes: kib('free'),
      libvirtVersion: /^Running against daemon: (\S+)/m.exec(version)?.[1] ?? /^Using library: libvirt (\S+)/m.exec(version)?.[1] ?? '',
      qemuVersion: /^Running hypervisor: QEMU (\S+)/m.exec(version)?.[1] ?? '',
      usableCpuModels,
      kvm,
    };
  }

  async secretUsage(uuid: string, options?: PortCallOptions): Promise<string | undefined> {
    let xml: string;
    try {
      xml = await this.virsh.run(`read secret ${uuid}`, ['secret-dumpxml', '--secret', uuid], options);
    } catch (err) {
      if (isNoSecret(err instanceof KvmcloneError ? err.cause : err)) return undefined;
      throw err;
    }
    return attr(child(parseXml(xml, 'virsh secret-dumpxml'), 'usage'), 'type');
  }

  /** Pools are addressed by UUID (virsh takes a pool argument as a UUID first, then as a name). */
  async listPools(options?: PortCallOptions): Promise<PoolRecord[]> {
    const uuids = (await this.virsh.run('list storage pools', ['pool-list', '--all', '--uuid'], options))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    const pools = await Promise.all(
      uuids.map((uuid) =>
        this.pool(uuid, options).catch((err: unknown) => {
          if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return undefined; // went away while listing
          throw err;
        }),
      ),
    );
    return pools.filter((p): p is PoolRecord => p !== undefined).sort(byName);
  }

  private async pool(uuid: string, options?: PortCallOptions): Promise<PoolRecord> {
    const [xml, info] = await Promise.all([
      this.virsh.run(`describe storage pool ${uuid}`, ['pool-dumpxml', '--pool', uuid], options),
      this.virsh.run(`read storage pool ${uuid}`, ['pool-info', '--bytes', '--pool', uuid], options),
    ]);
    const root = parseXml(xml, `XML of storage pool ${uuid}`);
    const field = (label: string): string => new RegExp(`^${label}:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
    const bytes = (label: string): number => Number(/^\d+/.exec(field(label))?.[0] ?? 0);
    return {
      name: textContent(child(root, 'name')),
      uuid,
      type: attr(root, 'type'),
      path: textContent(child(child(root, 'target'), 'path')).trim(),
      active: field('State') === 'running',
      autostart: field('Autostart') === 'yes',
      capacityBytes: bytes('Capacity'),
      allocationBytes: bytes('Allocation'),
      availableBytes: bytes('Available'),
    };
  }

  // --- Live copies (LibvirtLivePort): libvirt-live-adapter.ts ---

  backupSupported(options?: PortCallOptions): Promise<boolean> {
    return this.live.backupSupported(options);
  }

  domainJob(domain: string, options?: PortCallOptions): Promise<DomainJobRecord | undefined> {
    return this.live.domainJob(domain, options);
  }

  backupBegin(domain: string, backupXml: string, checkpointXml: string | undefined, options?: PortCallOptions): Promise<BackupJobRecord> {
    return this.live.backupBegin(domain, backupXml, checkpointXml, options);
  }

  backupJob(domain: string, options?: PortCallOptions): Promise<BackupJobRecord | undefined> {
    return this.live.backupJob(domain, options);
  }

  abortJob(domain: string, options?: PortCallOptions): Promise<boolean> {
    return this.live.abortJob(domain, options);
  }

  listCheckpoints(domain: string, options?: PortCallOptions): Promise<CheckpointSummary[]> {
    return this.live.listCheckpoints(domain, options);
  }

  checkpointXml(domain: string, name: string, options?: CheckpointReadOptions): Promise<string> {
    return this.live.checkpointXml(domain, name, options);
  }

  getCheckpoint(domain: string, name: string, options?: CheckpointReadOptions): Promise<CheckpointRecord> {
    return this.live.getCheckpoint(domain, name, options);
  }

  deleteCheckpoint(domain: string, name: string, options?: CheckpointDeleteOptions): Promise<void> {
    return this.live.deleteCheckpoint(domain, name, options);
  }

  redefineCheckpoint(domain: string, xml: string, options?: CheckpointRedefineOptions): Promise<void> {
    return this.live.redefineCheckpoint(domain, xml, options);
  }

  fsFreeze(domain: string, timeoutMs: number, options?: PortCallOptions): Promise<number> {
    return this.live.fsFreeze(domain, timeoutMs, options);
  }

  fsThaw(domain: string, timeoutMs: number, options?: PortCallOptions): Promise<number> {
    return this.live.fsThaw(domain, timeoutMs, options);
  }

  async close(): Promise<void> {
    const connection = this.current;
    this.current = undefined;
    connection?.drop();
  }
}
