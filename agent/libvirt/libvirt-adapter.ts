/**
 * The real LibvirtPort: `@unraid/libvirt` (N-API, one connection) for the
 * domain calls it has, and `virsh -c URI` (virsh-runner.ts) for what it
 * lacks — storage pools, host capabilities and versions, memory statistics,
 * undefine with NVRAM and TPM flags. It is the real LibvirtLivePort too:
 * backup jobs, checkpoints and the guest agent's freeze are in its base
 * class LibvirtLiveAdapter (libvirt-live-adapter.ts), to which it supplies
 * its virsh runner, its domain UUID lookup and its cached domain capabilities.
 *
 * The connection opens on first use (libvirt-connection.ts). When libvirtd
 * restarts, the next call on the old connection fails at once ("client
 * socket is closed", "Cannot write data"); the adapter then drops it, connects anew and runs the call again,
 * waiting for a libvirtd that is still coming back (libvirtd-wait.ts). A call
 * cut off while libvirtd was processing it is retried too: for a start or
 * destroy that already happened, the retry reports the domain's new state as
 * FAILED_PRECONDITION, never a second action.
 *
 * The binding's calls cannot be cancelled: a call whose signal aborts rejects
 * at once, and libvirt's worker thread finishes on its own.
 *
 * The parts: domain records in libvirt-domain-records.ts, host facts in
 * libvirt-host-facts.ts, storage pools in libvirt-pools.ts.
 */
import { byName } from './by-name.js';
import { ConnectListAllDomainsFlags, DomainGetXMLDescFlags } from '@unraid/libvirt';
import type { Logger } from 'pino';
import { KvmcloneError } from '../../shared/errors.js';
import { parseXml } from '../../shared/xml/parse-xml.js';
import { attr, child } from '../../shared/xml/xml-tree.js';
import { definitionFailure, isNoDomain, isNoSecret } from './libvirt-errors.js';
import { LibvirtConnection } from './libvirt-connection.js';
import { domainRecord, domainUuids, lookupDomainRecord, persistence } from './libvirt-domain-records.js';
import { hostRecord, StaticFactsCache } from './libvirt-host-facts.js';
import { LibvirtLiveAdapter } from './libvirt-live-adapter.js';
import { listStoragePools } from './libvirt-pools.js';
import type { DomainRecord, HostRecord, LibvirtPort, PoolRecord, PortCallOptions, StartOptions } from './libvirt-port.js';
import { VirshRunner } from './virsh-runner.js';
import { LIBVIRTD_WAIT_MS } from './libvirtd-wait.js';

/** LibvirtPort and LibvirtLivePort on a real libvirtd. */
export class LibvirtAdapter extends LibvirtLiveAdapter implements LibvirtPort {
  private readonly uri: string;
  protected readonly log: Logger;
  protected readonly virsh: VirshRunner;
  private readonly connection: LibvirtConnection;
  private readonly staticFacts: StaticFactsCache;
  private readonly libvirtdWaitMs: number;

  /**
   * @param options.libvirtdWaitMs how long a call waits for a restarting
   *   libvirtd before it fails UNAVAILABLE (LIBVIRTD_WAIT_MS by default)
   */
  constructor(options: { uri: string; log: Logger; libvirtdWaitMs?: number }) {
    super();
    this.uri = options.uri;
    this.log = options.log.child({ component: 'libvirt' });
    this.libvirtdWaitMs = options.libvirtdWaitMs ?? LIBVIRTD_WAIT_MS;
    this.virsh = new VirshRunner(this.uri, this.libvirtdWaitMs, this.log);
    this.connection = new LibvirtConnection(this.uri, this.log, this.libvirtdWaitMs);
    this.staticFacts = new StaticFactsCache(this.virsh);
  }

  /** The UUID virsh is given for a domain (virsh would take a name such as "12" as a running domain's ID). */
  protected domainUuid(name: string, doing: string, options?: PortCallOptions): Promise<string> {
    return this.connection.call(doing, options, async (h) => (await h.domainLookupByName(name)).getUUIDString());
  }

  /** `virsh domcapabilities`, from the host's cached static facts. */
  protected async domainCapabilities(options?: PortCallOptions): Promise<string> {
    return (await this.staticFacts.get(options))[2];
  }

  async listDomains(options?: PortCallOptions): Promise<DomainRecord[]> {
    return this.connection.call('list domains', options, async (h) => {
      const [all, persistent] = await Promise.all([
        h.connectListAllDomains(ConnectListAllDomainsFlags.ACTIVE | ConnectListAllDomainsFlags.INACTIVE),
        domainUuids(h, ConnectListAllDomainsFlags.PERSISTENT),
      ]);
      const records = await Promise.all(
        all.map((d) =>
          domainRecord(d, async (uuid) => persistent.has(uuid)).catch((err: unknown) => {
            if (isNoDomain(err)) return undefined; // went away while listing
            throw err;
          }),
        ),
      );
      return records.filter((r): r is DomainRecord => r !== undefined).sort(byName);
    });
  }

  async getDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.connection.call(`look up domain '${name}'`, options, (h) => lookupDomainRecord(h, name));
  }

  async getDomainXml(name: string, options?: PortCallOptions): Promise<string> {
    return this.connection.call(`read the XML of domain '${name}'`, options, async (h) => {
      const domain = await h.domainLookupByName(name);
      return domain.getXMLDesc(DomainGetXMLDescFlags.INACTIVE);
    });
  }

  async defineDomain(xml: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.connection.call('define domain', options, async (h) => {
      const domain = await h.domainDefineXML(xml).catch((err: unknown) => {
        throw definitionFailure(err, 'define domain');
      });
      return domainRecord(domain, persistence(h));
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
    return this.connection.call(`start domain '${name}'`, options, async (h) => {
      await (await h.domainLookupByName(name)).create();
      return lookupDomainRecord(h, name);
    });
  }

  async resumeDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.connection.call(`resume domain '${name}'`, options, async (h) => {
      await (await h.domainLookupByName(name)).resume();
      return lookupDomainRecord(h, name);
    });
  }

  async shutdownDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.connection.call(`shut down domain '${name}'`, options, async (h) => {
      await (await h.domainLookupByName(name)).shutdown();
      return lookupDomainRecord(h, name);
    });
  }

  async destroyDomain(name: string, options?: PortCallOptions): Promise<DomainRecord> {
    return this.connection.call(`destroy domain '${name}'`, options, async (h) => {
      const domain = await h.domainLookupByName(name);
      const before = await domainRecord(domain, persistence(h));
      await domain.destroy();
      // a transient domain is gone once destroyed
      return lookupDomainRecord(h, name).catch((err: unknown) => {
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

  async hostFacts(options?: PortCallOptions): Promise<HostRecord> {
    const [node, facts, memory] = await Promise.all([
      this.connection.call('read host facts', options, async (h) => ({ hostname: await h.connectGetHostname(), info: await h.nodeGetInfo() })),
      this.staticFacts.get(options),
      // Drivers without memory statistics (e.g. test:///) fall back to virNodeGetInfo below.
      this.virsh.run('read host memory', ['nodememstats'], options).catch((err: unknown) => {
        if (err instanceof Error && /not supported/.test(err.message)) return '';
        throw err;
      }),
    ]);
    return hostRecord(node, facts, memory);
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
    return listStoragePools(this.virsh, options);
  }

  async close(): Promise<void> {
    this.connection.close();
  }
}
