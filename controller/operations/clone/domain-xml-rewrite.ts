/**
 * Rewrites a source domain's XML into the clone's: new name, new UUID, a new
 * MAC for every interface (its link down when asked), disk, NVRAM and TPM paths remapped to the
 * destination, and log files named after the VM renamed after the clone (so
 * clone and source can run side by side) — nothing else. The XML is parsed by the agent's strict parser
 * (shared/xml/parse-xml.ts), edited in place and written back, so every element, attribute and comment we
 * do not touch survives as it was.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { invalidArgument } from '../../../shared/errors.js';
import { parseXmlDocument } from '../../../shared/xml/parse-xml.js';
import { serializeXml } from '../../../shared/xml/serialize-xml.js';
import { attr, child, childrenNamed, XmlElement } from '../../../shared/xml/xml-tree.js';

/** What changes between the source definition and the clone's. */
export interface DomainRewrite {
  name: string;
  /** The source VM's name: character-device log files named after it are renamed after the clone. */
  sourceName?: string;
  /** Defaults to a random UUID. */
  uuid?: string;
  /** Source path → destination path, for every disk source file. */
  diskPaths: ReadonlyMap<string, string>;
  /** New NVRAM path, when the VM has one. */
  nvramPath?: string;
  /** New TPM state directory, when the VM's TPM names one explicitly. */
  tpmStatePath?: string;
  /** MAC generator (tests pass a deterministic one). */
  newMac?: () => string;
  /**
   * Every interface gets `<link state='down'/>`: the copy starts cut off
   * from its networks (a test failover must not answer on the source's
   * addresses beside the running source).
   */
  linkDown?: boolean;
}

/** A random locally administered MAC in QEMU's 52:54:00 range. */
export function randomMac(): string {
  const tail = [...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'));
  return ['52', '54', '00', ...tail].join(':');
}

/** A new empty element without a namespace, e.g. `<mac/>`. */
function element(name: string, attributes: Record<string, string> = {}): XmlElement {
  return new XmlElement(name, name, '', { ...attributes });
}

/** The rewritten XML and what was changed (for the plan and the audit trail). */
export interface RewriteResult {
  xml: string;
  uuid: string;
  macs: { from: string; to: string }[];
}

/** A fresh MAC for every interface (one added where there is none), and `<link state='down'/>` when asked. */
function rewriteInterfaces(devices: XmlElement | undefined, rewrite: DomainRewrite): { from: string; to: string }[] {
  const macs: { from: string; to: string }[] = [];
  const newMac = rewrite.newMac ?? randomMac;
  for (const iface of childrenNamed(devices, 'interface')) {
    const mac = child(iface, 'mac');
    const fresh = newMac();
    if (mac) {
      macs.push({ from: attr(mac, 'address'), to: fresh });
      mac.setAttribute('address', fresh);
    } else {
      iface.insert(element('mac', { address: fresh }), iface.content[0]);
      macs.push({ from: '', to: fresh });
    }
    if (rewrite.linkDown) {
      let link = child(iface, 'link');
      if (!link) {
        link = element('link');
        iface.insert(link);
      }
      link.setAttribute('state', 'down');
    }
  }
  return macs;
}

/** Every disk source file to its planned destination; the source host's `<backingStore>` goes. */
function remapDisks(devices: XmlElement | undefined, diskPaths: ReadonlyMap<string, string>): void {
  for (const disk of childrenNamed(devices, 'disk')) {
    const source = child(disk, 'source');
    const file = attr(source, 'file');
    if (!source || !file) continue; // removable media without a medium, or non-file disks refused at preflight
    const mapped = diskPaths.get(file);
    if (mapped === undefined) throw invalidArgument(`no destination path was planned for disk ${file}`);
    source.setAttribute('file', mapped);
    // A <backingStore> element describes the source host's chain; libvirt re-reads it from the image.
    for (const backing of childrenNamed(disk, 'backingStore')) disk.remove(backing);
  }
}

/**
 * Log files of character devices named after the VM (e.g. /var/log/libvirt/qemu/web1-serial.log) follow
 * the new name: two VMs cannot hold one log file, and a clone must be able to run beside its source.
 */
function renameLogs(devices: XmlElement | undefined, oldName: string, newName: string): void {
  for (const kind of ['serial', 'console', 'channel', 'parallel']) {
    for (const dev of childrenNamed(devices, kind)) {
      for (const el of [...childrenNamed(dev, 'source'), ...childrenNamed(dev, 'log')]) {
        const attrName = el.name === 'log' ? 'file' : 'path';
        const path = attr(el, attrName);
        if (attr(dev, 'type') !== 'file' && el.name === 'source') continue;
        if (!path) continue;
        const slash = path.lastIndexOf('/');
        const base = path.slice(slash + 1);
        if (base.includes(oldName)) el.setAttribute(attrName, `${path.slice(0, slash + 1)}${base.replace(oldName, newName)}`);
      }
    }
  }
}

/** Applies `rewrite` to `sourceXml`. Throws INVALID_ARGUMENT when a disk has no mapping. */
export function rewriteDomainXml(sourceXml: string, rewrite: DomainRewrite): RewriteResult {
  const doc = parseXmlDocument(sourceXml, 'the source definition');
  const domain = doc.root;
  if (domain.name !== 'domain' || domain.uri !== '') throw invalidArgument('the source definition is not a <domain> document');
  const name = child(domain, 'name');
  if (!name) throw invalidArgument('the source definition has no <name>');
  name.setText(rewrite.name);

  const uuid = rewrite.uuid ?? randomUUID();
  let uuidEl = child(domain, 'uuid');
  if (!uuidEl) {
    uuidEl = element('uuid');
    domain.insert(uuidEl, domain.content[domain.content.indexOf(name) + 1]);
  }
  uuidEl.setText(uuid);

  const devices = child(domain, 'devices');
  const macs = rewriteInterfaces(devices, rewrite);
  remapDisks(devices, rewrite.diskPaths);
  if (rewrite.sourceName !== undefined && rewrite.sourceName !== rewrite.name) renameLogs(devices, rewrite.sourceName, rewrite.name);

  const nvram = child(child(domain, 'os'), 'nvram');
  if (nvram && rewrite.nvramPath !== undefined) nvram.setText(rewrite.nvramPath);
  if (rewrite.tpmStatePath !== undefined) {
    for (const tpm of childrenNamed(devices, 'tpm')) {
      const source = child(child(tpm, 'backend'), 'source');
      if (source && attr(source, 'path')) source.setAttribute('path', rewrite.tpmStatePath);
    }
  }
  return { xml: serializeXml(doc), uuid, macs };
}
