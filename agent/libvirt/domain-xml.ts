/**
 * Reading libvirt domain XML: the facts the services need (name, uuid,
 * memory, vCPUs, disks, NVRAM, TPM, CPU), and every host path the definition
 * makes QEMU or libvirt open. The XML is parsed by the strict parser of
 * shared/xml/parse-xml.ts (no DOCTYPE, no entity but XML's five), the one the
 * controller edits definitions with too.
 */
import { invalidArgument } from '../../shared/errors.js';
import { parseXml } from '../../shared/xml/parse-xml.js';
import { attr, child, childrenNamed, textContent, type XmlElement } from '../../shared/xml/xml-tree.js';

const UNIT_POWERS: Readonly<Record<string, number>> = { k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };

/** Bytes of a libvirt scaled integer (`<memory unit='MiB'>64</memory>`); the default unit is KiB, as libvirt's. */
export function scaledBytes(value: string, unit: string, what: string): number {
  const trimmed = value.trim();
  if (!/^\d+$/.test(trimmed)) throw invalidArgument(`${what}: ${JSON.stringify(value.slice(0, 40))} is not a number`);
  const u = (unit === '' ? 'KiB' : unit).toLowerCase();
  let factor: number;
  if (u === 'b' || u === 'bytes') factor = 1;
  else {
    const power = UNIT_POWERS[u[0] ?? ''];
    const rest = u.slice(1);
    if (power === undefined || !['', 'ib', 'b'].includes(rest)) throw invalidArgument(`${what}: unknown unit ${JSON.stringify(unit)}`);
    factor = (rest === 'b' ? 1000 : 1024) ** power;
  }
  const bytes = Number(trimmed) * factor;
  if (!Number.isSafeInteger(bytes)) throw invalidArgument(`${what}: ${trimmed} ${unit} is too large`);
  return bytes;
}

function count(value: string, what: string): number {
  const trimmed = value.trim();
  if (!/^\d{1,6}$/.test(trimmed)) throw invalidArgument(`${what}: ${JSON.stringify(value.slice(0, 40))} is not a count`);
  return Number(trimmed);
}

/** One `<disk>` of a definition, as the services need it. */
export interface DomainDisk {
  /** `file`, `block`, `dir`, `network`, `volume`, ... */
  type: string;
  /** `disk`, `cdrom`, `floppy` or `lun`. */
  device: string;
  /** `<driver type>`: the image format libvirt opens it as, or ''. */
  format: string;
  /** The host path (source file, dev or dir by type), or '' (empty drive, network or pool volume). */
  source: string;
  /** Guest device name, e.g. `vda`. */
  target: string;
  readonly: boolean;
  shareable: boolean;
}

/** An emulated or passthrough TPM. */
export interface DomainTpm {
  /** `emulator` (swtpm), `passthrough` or `external`. */
  backend: string;
  /** The state directory named by `<backend><source type='dir' path=...>` (newer libvirt), or ''. */
  statePath: string;
  /** UUID of the libvirt secret encrypting the state (`<backend><encryption secret=...>`), or ''. */
  secret: string;
}

/** What kvmclone reads from a domain definition. */
export interface DomainFacts {
  name: string;
  /** '' when the XML names none (libvirt then makes one up). */
  uuid: string;
  memoryBytes: number;
  vcpus: number;
  disks: DomainDisk[];
  /** `<os><nvram>`: the UEFI variable store, or ''. */
  nvramPath: string;
  tpm: DomainTpm | undefined;
  /** `host-model`, `host-passthrough`, `maximum`, `custom` (a `<cpu>` without mode) or '' (no `<cpu>`). */
  cpuMode: string;
  /** `<cpu><model>`, or ''. */
  cpuModel: string;
}

function diskSource(disk: XmlElement): string {
  const source = child(disk, 'source');
  switch (attr(disk, 'type')) {
    case 'file':
      return attr(source, 'file');
    case 'block':
      return attr(source, 'dev');
    case 'dir':
      return attr(source, 'dir');
    default:
      return '';
  }
}

/** Reads a domain definition. INVALID_ARGUMENT when it is not one (wrong root, no name, bad numbers). */
export function readDomainFacts(xml: string | XmlElement): DomainFacts {
  const root = typeof xml === 'string' ? parseXml(xml, 'domain XML') : xml;
  if (root.name !== 'domain' || root.uri !== '') throw invalidArgument(`domain XML: the root element is <${root.name}>, not <domain>`);
  const nameElement = child(root, 'name');
  if (!nameElement) throw invalidArgument('domain XML: <name> is missing');
  const memory = child(root, 'memory');
  const vcpu = child(root, 'vcpu');
  const devices = childrenNamed(root, 'devices');
  const disks = devices
    .flatMap((d) => childrenNamed(d, 'disk'))
    .map((disk) => ({
      type: attr(disk, 'type') || 'file',
      device: attr(disk, 'device') || 'disk',
      format: attr(child(disk, 'driver'), 'type'),
      source: diskSource(disk),
      target: attr(child(disk, 'target'), 'dev'),
      readonly: child(disk, 'readonly') !== undefined,
      shareable: child(disk, 'shareable') !== undefined,
    }));
  const tpmElement = devices.flatMap((d) => childrenNamed(d, 'tpm'))[0];
  const backend = child(tpmElement, 'backend');
  const tpmSource = child(backend, 'source');
  const cpu = child(root, 'cpu');
  return {
    name: textContent(nameElement),
    uuid: textContent(child(root, 'uuid')).trim(),
    memoryBytes: memory ? scaledBytes(textContent(memory), attr(memory, 'unit'), 'domain XML <memory>') : 0,
    vcpus: vcpu ? count(textContent(vcpu), 'domain XML <vcpu>') : 1,
    disks,
    nvramPath: textContent(child(child(root, 'os'), 'nvram')),
    tpm: tpmElement
      ? { backend: attr(backend, 'type'), statePath: attr(tpmSource, 'type') === 'dir' ? attr(tpmSource, 'path') : '', secret: attr(child(backend, 'encryption'), 'secret') }
      : undefined,
    cpuMode: cpu ? attr(cpu, 'mode') || 'custom' : '',
    cpuModel: textContent(child(cpu, 'model')).trim(),
  };
}

/**
 * What a host path in a definition is for; the service decides per kind where
 * such a path may lie (agent/services/domain-service.ts for definitions,
 * domain-removal.ts for what an undefine removes).
 */
export type HostPathKind =
  /** disk and filesystem sources, backing stores included: guest-readable and -writable */
  | 'storage'
  /** `<loader>`, the NVRAM template: read-only firmware */
  | 'firmware'
  /** `<kernel>`, `<initrd>`, `<dtb>`, ACPI tables: read-only, guest-visible */
  | 'boot'
  /** `<nvram>`: the guest writes it */
  | 'nvram'
  /** `<emulator>`: libvirtd executes it */
  | 'emulator'
  /** character devices of type file and `<log file>`: QEMU truncates or appends */
  | 'log'
  /** unix sockets QEMU listens on or connects to */
  | 'socket'
  /** host terminals a character device attaches to */
  | 'tty'
  /** the `<rng>` random source */
  | 'rng'
  /** `<interface><backend tap vhost>` device nodes */
  | 'net-device'
  /** any other absolute path: no slot the agent knows, so only the image roots are allowed */
  | 'other';

/** One host path a definition names. */
export interface HostPathReference {
  kind: HostPathKind;
  /** The value exactly as libvirt will read it (not trimmed, not resolved). */
  path: string;
  /** Where it stands, e.g. `domain/devices/disk[2]/source@file`. */
  where: string;
}

/** Every host path of a definition, and the parts no path check can confine. */
export interface HostReferences {
  paths: HostPathReference[];
  /** Elements that hand the guest raw host resources (QEMU command-line passthrough, SCSI hostdevs, ...). */
  refused: string[];
}

const GUEST_SIDE_OS = new Set(['cmdline', 'init', 'initarg', 'initdir', 'initenv', 'initgroup', 'inituser']);
const FREE_TEXT = new Set(['metadata', 'description', 'title']);
const REFUSED_DISK_TYPES = new Set(['volume', 'nvme', 'vhostuser', 'vhostvdpa']);
const CHARDEV_PATH_KIND: Readonly<Record<string, HostPathKind>> = { file: 'log', unix: 'socket', dev: 'tty', pty: 'tty' };

/**
 * The kind of the value at `chain` (root first) and, for an attribute, `attrName`;
 * 'exempt' for values that are not host paths (guest-side paths, cgroup names);
 * undefined for a slot the agent does not know.
 */
function slotKind(chain: readonly XmlElement[], attrName: string | undefined): HostPathKind | 'exempt' | undefined {
  const element = chain[chain.length - 1];
  const parent = chain[chain.length - 2];
  const top = chain[1]?.name;
  const device = top === 'devices' ? chain[2]?.name : undefined;
  if (attrName === undefined) {
    if (top === 'os' && chain.length === 3) {
      if (element.name === 'loader') return 'firmware';
      if (element.name === 'nvram') return 'nvram';
      if (['kernel', 'initrd', 'dtb'].includes(element.name)) return 'boot';
      if (GUEST_SIDE_OS.has(element.name)) return 'exempt';
    }
    if (top === 'os' && element.name === 'table' && parent?.name === 'acpi') return 'boot';
    if (top === 'devices' && chain.length === 3 && element.name === 'emulator') return 'emulator';
    if (device === 'rng' && element.name === 'backend') return 'rng';
    if (top === 'resource' && element.name === 'partition') return 'exempt';
    return undefined;
  }
  if ((device === 'disk' || device === 'filesystem') && element.name === 'source' && ['file', 'dev', 'dir'].includes(attrName)) return 'storage';
  if (device === 'filesystem' && element.name === 'target' && attrName === 'dir') return 'exempt';
  if (top === 'os' && element.name === 'nvram' && attrName === 'template') return 'firmware';
  if (element.name === 'source' && attrName === 'path') return CHARDEV_PATH_KIND[attr(parent, 'type')] ?? 'other';
  if (element.name === 'log' && attrName === 'file') return 'log';
  if (device === 'interface' && element.name === 'backend' && (attrName === 'tap' || attrName === 'vhost')) return 'net-device';
  return undefined;
}

function refusal(chain: readonly XmlElement[], where: string): string | undefined {
  const element = chain[chain.length - 1];
  if (element.uri !== '') return `${where}: <${element.name}> of namespace ${element.uri} (hypervisor passthrough)`;
  const type = attr(element, 'type');
  if (element.name === 'disk' && REFUSED_DISK_TYPES.has(type)) return `${where}: disk type '${type}' names host storage outside any file path`;
  if (element.name === 'hostdev' && (type === 'scsi' || type === 'scsi_host' || attr(element, 'mode') === 'capabilities')) {
    return `${where}: host storage passthrough (hostdev type '${type}')`;
  }
  if (element.name === 'backend' && chain[chain.length - 2]?.name === 'tpm' && type === 'passthrough') return `${where}: host TPM passthrough`;
  return undefined;
}

/** True for a value libvirt or QEMU could take as an absolute host path. */
function looksLikePath(value: string): boolean {
  return value.trimStart().startsWith('/');
}

/**
 * Lists every host path a domain definition names, by kind, and the elements
 * that no path check can confine. Known slots are listed whatever their value
 * (a relative path is for the caller to refuse); anywhere else, any value that
 * starts with `/` is listed as `other`, so an element this module does not know
 * is denied by default rather than let through. `<metadata>`, `<description>`
 * and `<title>` are free text and skipped.
 */
export function hostReferences(root: XmlElement): HostReferences {
  const paths: HostPathReference[] = [];
  const refused: string[] = [];
  const visit = (chain: XmlElement[], where: string): void => {
    const element = chain[chain.length - 1];
    const refusedHere = refusal(chain, where);
    if (refusedHere !== undefined) {
      refused.push(refusedHere);
      return;
    }
    for (const [name, value] of Object.entries(element.attributes)) {
      if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
      const kind = slotKind(chain, name);
      if (kind === 'exempt') continue;
      if ((kind !== undefined && value !== '') || looksLikePath(value)) paths.push({ kind: kind ?? 'other', path: value, where: `${where}@${name}` });
    }
    const kind = slotKind(chain, undefined);
    if (kind !== 'exempt') {
      // A known slot is read as libvirt reads it (the XPath string value, children's text included);
      // elsewhere this element's own text is checked here and each child's text on its own visit.
      const value = kind !== undefined ? textContent(element) : element.text;
      if ((kind !== undefined && value !== '') || looksLikePath(value)) paths.push({ kind: kind ?? 'other', path: value, where });
    }
    const seen = new Map<string, number>();
    for (const c of element.children) {
      if (chain.length === 1 && FREE_TEXT.has(c.name) && c.uri === '') continue;
      const index = (seen.get(c.name) ?? 0) + 1;
      seen.set(c.name, index);
      const many = element.children.filter((o) => o.name === c.name).length > 1;
      visit([...chain, c], `${where}/${c.name}${many ? `[${index}]` : ''}`);
    }
  };
  visit([root], root.name);
  return { paths, refused };
}
