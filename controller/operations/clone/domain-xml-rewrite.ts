/**
 * Rewrites a source domain's XML into the clone's: new name, new UUID, a new
 * MAC for every interface (its link down when asked), disk, NVRAM and TPM paths remapped to the
 * destination, and log files named after the VM renamed after the clone (so
 * clone and source can run side by side) — nothing else. The XML is edited as a DOM and serialised back,
 * so every element, attribute and comment we do not touch survives as it was.
 */
import { DOMParser, XMLSerializer, type Element } from '@xmldom/xmldom';
import { randomBytes, randomUUID } from 'node:crypto';
import { invalidArgument } from '../../../shared/errors.js';

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

function elements(parent: Element, name: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).tagName === name) out.push(n as Element);
  }
  return out;
}

function only(parent: Element, name: string): Element | undefined {
  return elements(parent, name)[0];
}

/** The rewritten XML and what was changed (for the plan and the audit trail). */
export interface RewriteResult {
  xml: string;
  uuid: string;
  macs: { from: string; to: string }[];
}

/** Applies `rewrite` to `sourceXml`. Throws INVALID_ARGUMENT when a disk has no mapping. */
export function rewriteDomainXml(sourceXml: string, rewrite: DomainRewrite): RewriteResult {
  const doc = new DOMParser().parseFromString(sourceXml, 'text/xml');
  const domain = doc.documentElement;
  if (!domain || domain.tagName !== 'domain') throw invalidArgument('the source definition is not a <domain> document');
  const name = only(domain, 'name');
  if (!name) throw invalidArgument('the source definition has no <name>');
  name.textContent = rewrite.name;

  const uuid = rewrite.uuid ?? randomUUID();
  let uuidEl = only(domain, 'uuid');
  if (!uuidEl) {
    uuidEl = doc.createElement('uuid');
    domain.insertBefore(uuidEl, name.nextSibling);
  }
  uuidEl.textContent = uuid;

  const devices = only(domain, 'devices');
  const macs: { from: string; to: string }[] = [];
  const newMac = rewrite.newMac ?? randomMac;
  for (const iface of devices ? elements(devices, 'interface') : []) {
    const mac = only(iface, 'mac');
    const fresh = newMac();
    if (mac) {
      macs.push({ from: mac.getAttribute('address') ?? '', to: fresh });
      mac.setAttribute('address', fresh);
    } else {
      const created = doc.createElement('mac');
      created.setAttribute('address', fresh);
      iface.insertBefore(created, iface.firstChild);
      macs.push({ from: '', to: fresh });
    }
    if (rewrite.linkDown) {
      let link = only(iface, 'link');
      if (!link) {
        link = doc.createElement('link');
        iface.appendChild(link);
      }
      link.setAttribute('state', 'down');
    }
  }

  for (const disk of devices ? elements(devices, 'disk') : []) {
    const source = only(disk, 'source');
    const file = source?.getAttribute('file');
    if (!source || !file) continue; // removable media without a medium, or non-file disks refused at preflight
    const mapped = rewrite.diskPaths.get(file);
    if (mapped === undefined) throw invalidArgument(`no destination path was planned for disk ${file}`);
    source.setAttribute('file', mapped);
    // A <backingStore> element describes the source host's chain; libvirt re-reads it from the image.
    for (const backing of elements(disk, 'backingStore')) disk.removeChild(backing);
  }

  // Log files of character devices named after the VM (e.g. /var/log/libvirt/qemu/web1-serial.log) follow
  // the new name: two VMs cannot hold one log file, and a clone must be able to run beside its source.
  const oldName = rewrite.sourceName;
  if (oldName !== undefined && oldName !== rewrite.name && devices) {
    for (const kind of ['serial', 'console', 'channel', 'parallel']) {
      for (const dev of elements(devices, kind)) {
        for (const el of [...elements(dev, 'source'), ...elements(dev, 'log')]) {
          const attr = el.tagName === 'log' ? 'file' : 'path';
          const path = el.getAttribute(attr);
          if (dev.getAttribute('type') !== 'file' && el.tagName === 'source') continue;
          if (!path) continue;
          const slash = path.lastIndexOf('/');
          const base = path.slice(slash + 1);
          if (base.includes(oldName)) el.setAttribute(attr, `${path.slice(0, slash + 1)}${base.replace(oldName, rewrite.name)}`);
        }
      }
    }
  }

  const os = only(domain, 'os');
  const nvram = os ? only(os, 'nvram') : undefined;
  if (nvram && rewrite.nvramPath !== undefined) nvram.textContent = rewrite.nvramPath;

  if (rewrite.tpmStatePath !== undefined && devices) {
    for (const tpm of elements(devices, 'tpm')) {
      const backend = only(tpm, 'backend');
      const source = backend ? only(backend, 'source') : undefined;
      if (source?.getAttribute('path')) source.setAttribute('path', rewrite.tpmStatePath);
    }
  }
  return { xml: new XMLSerializer().serializeToString(doc), uuid, macs };
}
