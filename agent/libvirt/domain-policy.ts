/**
 * The domain policy: which parts of a libvirt domain definition this agent
 * lets a caller define. Written as an allow-list of what the VMs kvmclone
 * copies are made of — everything else is refused (deny by default): an
 * element libvirt learns next year, or one this module never heard of, must
 * not be a way to hand a guest a host device or to run QEMU unconfined.
 *
 * Three layers, each an allow-list:
 *  - the children of `<domain>`, of `<os>` and of `<devices>`;
 *  - per device, the `type` (or `model`) values that stay inside the host's
 *    software: an `<interface type='direct'>` reaches a host NIC, a
 *    `<serial type='dev'>` a host tty, an `<input type='evdev'>` a host
 *    keyboard, so those types are not on the list;
 *  - a few sub-elements that run host programs or lift confinement
 *    (`<interface><script>`, `<seclabel>` turning confinement off, a GL
 *    render node) are refused wherever they appear.
 *
 * Host paths inside what is allowed (disk sources, logs, sockets, firmware)
 * are confined separately by kind (domain-xml.ts `hostReferences`,
 * domain-service.ts): this module says *what* may be defined, that check
 * says *where* its files may lie. It is used both by DefineDomain (refusal)
 * and by DescribeDomain (so clone and sync can refuse before copying).
 */
import { KvmcloneError, permissionDenied } from '../../shared/errors.js';
import { checkAbsolutePath, checkVmName } from '../../shared/validation.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { parseXml } from '../../shared/xml/parse-xml.js';
import { attr, child, type XmlElement } from '../../shared/xml/xml-tree.js';
import { hostReferences, readDomainFacts, type DomainFacts, type HostPathKind, type HostPathReference } from './domain-xml.js';

/** One refused construct: where it stands and why it is refused. */
export interface PolicyViolation {
  /** e.g. `domain/devices/hostdev[2]`. */
  where: string;
  /** The reason, in words a caller can act on. */
  reason: string;
}

/** Children of `<domain>` a definition may have. */
const DOMAIN_CHILDREN = new Set([
  'name',
  'uuid',
  'genid',
  'title',
  'description',
  'metadata',
  'memory',
  'currentMemory',
  'maxMemory',
  'memoryBacking',
  'memtune',
  'vcpu',
  'vcpus',
  'iothreads',
  'iothreadids',
  'cputune',
  'numatune',
  'blkiotune',
  'resource',
  'os',
  'features',
  'cpu',
  'clock',
  'sysinfo',
  'pm',
  'on_poweroff',
  'on_reboot',
  'on_crash',
  'on_lockfailure',
  'devices',
  'seclabel',
  'keywrap',
]);

/** Children of `<os>` (kernel/initrd/cmdline boot, UEFI loader and NVRAM included). */
const OS_CHILDREN = new Set(['type', 'loader', 'nvram', 'kernel', 'initrd', 'cmdline', 'dtb', 'boot', 'bootmenu', 'smbios', 'bios', 'acpi', 'firmware']);

/** Types of a character device that stay inside QEMU, a file or a unix socket. */
const CHARDEV_TYPES = new Set(['pty', 'file', 'unix', 'null', 'vc', 'spicevmc', 'spiceport', 'qemu-vdagent']);

type TypeRule = { readonly attribute: string; readonly allowed: ReadonlySet<string>; readonly fallback: string; readonly why: string };

const rule = (attribute: string, allowed: string[], fallback: string, why: string): TypeRule => ({ attribute, allowed: new Set(allowed), fallback, why });

/**
 * Children of `<devices>` and, for those whose type decides what they reach,
 * the types allowed. A device absent from this table is refused.
 */
const DEVICES: Readonly<Record<string, TypeRule | null>> = {
  emulator: null,
  disk: rule('type', ['file', 'block', 'dir', 'network'], 'file', 'names host storage outside any file path'),
  filesystem: rule('type', ['mount'], 'mount', 'reaches host storage outside a directory'),
  controller: null,
  interface: rule('type', ['network', 'bridge', 'user'], '', 'hands the guest a host network device'),
  serial: rule('type', [...CHARDEV_TYPES], 'pty', 'attaches the guest to a host device or network endpoint'),
  parallel: rule('type', [...CHARDEV_TYPES], 'pty', 'attaches the guest to a host device or network endpoint'),
  console: rule('type', [...CHARDEV_TYPES], 'pty', 'attaches the guest to a host device or network endpoint'),
  channel: rule('type', [...CHARDEV_TYPES], 'pty', 'attaches the guest to a host device or network endpoint'),
  input: rule('type', ['mouse', 'tablet', 'keyboard'], 'mouse', 'hands the guest a host input device'),
  graphics: rule('type', ['vnc', 'spice'], '', 'uses a host display or GPU'),
  video: null,
  sound: null,
  audio: rule('type', ['none', 'spice', 'file'], 'none', 'reaches a host sound device or server'),
  memballoon: null,
  rng: null,
  tpm: null,
  watchdog: null,
  panic: null,
  hub: null,
  redirdev: rule('type', ['spicevmc'], '', 'redirects a USB device from a host socket'),
  iommu: null,
  vsock: null,
};

/** Why a `<seclabel>` at `where` is refused, or undefined when it keeps QEMU confined and unprivileged. */
function seclabelRefusal(seclabel: XmlElement, deviceLevel: boolean): string | undefined {
  const type = attr(seclabel, 'type');
  const model = attr(seclabel, 'model');
  if (type === 'none') return "seclabel type='none' runs QEMU without confinement";
  if (attr(seclabel, 'relabel') === 'no') return "seclabel relabel='no' turns off labelling of the guest's resources";
  if (!deviceLevel && type !== '' && type !== 'dynamic') return `seclabel type='${type}' sets the label by hand (only dynamic labels are allowed)`;
  if (child(seclabel, 'baselabel')) return '<seclabel><baselabel> chooses the base domain QEMU runs in';
  const label = child(seclabel, 'label');
  if (label && (deviceLevel || type !== 'dynamic')) return `<seclabel${model ? ` model='${model}'` : ''}><label> sets a label by hand`;
  return undefined;
}

/** Refusals found below an allowed device (anything there that runs a host program or reaches a host GPU). */
function innerRefusals(element: XmlElement, where: string, out: PolicyViolation[]): void {
  const seen = new Map<string, number>();
  for (const c of element.children) {
    if (c.uri !== '') continue; // namespaced elements are refused by hostReferences
    const index = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, index);
    const many = element.children.filter((o) => o.name === c.name).length > 1;
    const here = `${where}/${c.name}${many ? `[${index}]` : ''}`;
    if (c.name === 'script' || c.name === 'downscript') out.push({ where: here, reason: `<${c.name}> runs a host program as root when the network comes up` });
    else if (c.name === 'seclabel') {
      const reason = seclabelRefusal(c, true);
      if (reason) out.push({ where: here, reason });
    } else if (c.name === 'gl' && attr(c, 'enable') === 'yes') out.push({ where: here, reason: '<gl enable=yes> gives the guest a host GPU render node' });
    else innerRefusals(c, here, out);
  }
}

function checkDevice(device: XmlElement, where: string, out: PolicyViolation[]): void {
  const rules = Object.hasOwn(DEVICES, device.name) ? DEVICES[device.name] : undefined;
  if (rules === undefined) {
    const reason =
      device.name === 'hostdev'
        ? `host device passthrough (hostdev type '${attr(device, 'type') || 'pci'}'): the guest would take over whatever device sits at that address on the host`
        : `<${device.name}> is not a device kvmclone allows`;
    out.push({ where, reason });
    return;
  }
  if (rules !== null) {
    const value = attr(device, rules.attribute) || rules.fallback;
    if (!rules.allowed.has(value)) {
      out.push({ where, reason: `${device.name} ${rules.attribute} '${value}' ${rules.why} (allowed: ${[...rules.allowed].join(', ')})` });
      return;
    }
  }
  if (device.name === 'tpm') {
    const backend = attr(child(device, 'backend'), 'type') || 'passthrough';
    if (backend !== 'emulator') out.push({ where: `${where}/backend`, reason: `TPM backend '${backend}' reaches a host TPM or socket (allowed: emulator)` });
  }
  if (device.name === 'rng') {
    const model = attr(child(device, 'backend'), 'model');
    if (!['random', 'builtin'].includes(model)) out.push({ where: `${where}/backend`, reason: `rng backend model '${model}' (allowed: random, builtin)` });
  }
  innerRefusals(device, where, out);
}

function checkChildren(
  element: XmlElement,
  where: string,
  allowed: ReadonlySet<string> | 'each-decides',
  what: string,
  out: PolicyViolation[],
  each?: (c: XmlElement, here: string) => void,
): void {
  const seen = new Map<string, number>();
  for (const c of element.children) {
    if (c.uri !== '') continue; // namespaced elements (qemu:commandline, ...) are refused by hostReferences
    const index = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, index);
    const many = element.children.filter((o) => o.name === c.name && o.uri === '').length > 1;
    const here = `${where}/${c.name}${many ? `[${index}]` : ''}`;
    if (allowed !== 'each-decides' && !allowed.has(c.name)) out.push({ where: here, reason: `<${c.name}> is not allowed in <${what}>` });
    else each?.(c, here);
  }
}

/**
 * Every construct of a domain definition the policy refuses, in document
 * order; empty when the definition may be defined (its host paths are then
 * still checked by kind). Takes the parsed root or the XML text.
 */
export function domainPolicyViolations(xml: string | XmlElement): PolicyViolation[] {
  const root = typeof xml === 'string' ? parseXml(xml, 'domain XML') : xml;
  const out: PolicyViolation[] = [];
  const type = attr(root, 'type');
  if (type !== '' && type !== 'kvm' && type !== 'qemu') out.push({ where: 'domain', reason: `domain type '${type}' (allowed: kvm, qemu)` });
  checkChildren(root, 'domain', DOMAIN_CHILDREN, 'domain', out, (c, here) => {
    if (c.name === 'os') checkChildren(c, here, OS_CHILDREN, 'os', out);
    else if (c.name === 'seclabel') {
      const reason = seclabelRefusal(c, false);
      if (reason) out.push({ where: here, reason });
    } else if (c.name === 'devices') checkChildren(c, here, 'each-decides', 'devices', out, (d, at) => checkDevice(d, at, out));
  });
  return out;
}

/**
 * Everything in a definition DefineDomain would refuse whatever its paths:
 * the allow-list's violations and the elements no path check can confine
 * (namespaced passthrough, SCSI hostdevs, ...), each as "where: reason".
 */
export function definitionRefusals(xml: string | XmlElement): string[] {
  const root = typeof xml === 'string' ? parseXml(xml, 'domain XML') : xml;
  return [...hostReferences(root).refused, ...domainPolicyViolations(root).map((v) => `${v.where}: ${v.reason}`)];
}

interface Place {
  /** Anywhere under the image roots (resolved, symlinks included). */
  roots: boolean;
  /** System directories for this kind, checked on the path as written (they are root's). */
  prefixes?: readonly string[];
  /** Exact system paths for this kind. */
  pattern?: RegExp;
  /** The rule in words, for the refusal. */
  allowed: string;
}

/**
 * Where each kind of host path in a definition may lie. Disks, shared
 * directories and anything unrecognised: under the image roots only. Read-only
 * firmware and boot files may also come from the system's data directories,
 * the NVRAM from libvirt's nvram directory, logs from libvirt's log directory;
 * the emulator must be a QEMU binary and device nodes the harmless ones.
 */
const PLACES: Readonly<Record<HostPathKind, Place>> = {
  storage: { roots: true, allowed: 'the image roots' },
  other: { roots: true, allowed: 'the image roots' },
  firmware: { roots: true, prefixes: ['/usr/share/'], allowed: 'the image roots or /usr/share' },
  boot: { roots: true, prefixes: ['/usr/share/', '/var/lib/libvirt/boot/'], allowed: 'the image roots, /var/lib/libvirt/boot or /usr/share' },
  nvram: { roots: true, prefixes: ['/var/lib/libvirt/qemu/nvram/'], allowed: 'the image roots or /var/lib/libvirt/qemu/nvram' },
  log: { roots: true, prefixes: ['/var/log/libvirt/'], allowed: 'the image roots or /var/log/libvirt' },
  socket: { roots: true, prefixes: ['/var/lib/libvirt/qemu/', '/run/libvirt/qemu/'], allowed: "the image roots or libvirt's qemu directories" },
  emulator: { roots: false, pattern: /^\/usr\/(bin|libexec)\/(qemu-system-[a-z0-9_]+|qemu-kvm|kvm)$/, allowed: 'a QEMU binary in /usr/bin or /usr/libexec' },
  tty: { roots: false, pattern: /^\/dev\/(pts\/\d+|tty(S|USB|ACM)?\d+)$/, allowed: 'a terminal device' },
  rng: { roots: false, pattern: /^\/dev\/(u?random|hwrng)$/, allowed: '/dev/random, /dev/urandom or /dev/hwrng' },
  'net-device': { roots: false, pattern: /^\/dev\/(net\/tun|vhost-net)$/, allowed: '/dev/net/tun or /dev/vhost-net' },
};

/** True when a path is in one of the system places of its kind (checked as written: these directories are root's). */
export function inSystemPlace(kind: HostPathKind, path: string): boolean {
  const place = PLACES[kind];
  return place.pattern?.test(path) === true || place.prefixes?.some((p) => path.startsWith(p)) === true;
}

async function confine(ref: HostPathReference, roots: ImageRoots): Promise<void> {
  const path = checkAbsolutePath(ref.path, ref.where);
  if (inSystemPlace(ref.kind, path)) return;
  const place = PLACES[ref.kind];
  if (place.roots) {
    try {
      await roots.forCreate(path, ref.where);
      return;
    } catch (err) {
      if (!(err instanceof KvmcloneError && err.code === 'PERMISSION_DENIED')) throw err;
    }
  }
  throw permissionDenied(`${ref.where}: ${path} is not a place this agent lets a VM reach (allowed: ${place.allowed})`);
}

/**
 * Reads a definition and checks its name, the allow-list and every host path
 * in it; returns its facts. PERMISSION_DENIED naming each refused element.
 */
export async function checkDefinition(xml: string, what: string, roots: ImageRoots): Promise<DomainFacts> {
  const root = parseXml(xml, what);
  const facts = readDomainFacts(root);
  checkVmName(facts.name, `${what} <name>`);
  const { paths } = hostReferences(root);
  const denied = definitionRefusals(root);
  if (denied.length > 0) throw permissionDenied(`${what} asks for host access this agent never grants: ${denied.join('; ')}`);
  for (const ref of paths) await confine(ref, roots);
  return facts;
}
