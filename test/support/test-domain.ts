/**
 * The domain definitions the e2e tests give their testbed VMs: a small
 * boot-sector machine (KVM where the machine has it, TCG otherwise) with the
 * disks and devices a test asks for, and the shell lines that define it in a
 * host. One place, so every test VM is the same kind of machine.
 */
import { existsSync } from 'node:fs';

/** A file-backed virtio disk of a test VM. */
export interface TestDisk {
  file: string;
  format: 'raw' | 'qcow2';
  target: string;
}

/** What varies between test VMs. */
export interface TestDomainOptions {
  disks: readonly TestDisk[];
  memoryMiB?: number;
  /** Extra `<devices>` children (an interface, a TPM), as XML. */
  devices?: readonly string[];
  /** Elements after `<type>` in `<os>` (a loader, an NVRAM); default `<boot dev='hd'/>`. */
  os?: string;
  /** A serial console logged to /var/log/libvirt/qemu/NAME-serial.log (the boot sector's greeting). */
  serialLog?: boolean;
  /** Extra top-level elements (features). */
  extra?: string;
  /** The domain type; default KVM where the machine has /dev/kvm, else TCG ("qemu"). */
  type?: 'kvm' | 'qemu';
}

/** The definition of test VM `name`. */
export function testDomainXml(name: string, options: TestDomainOptions): string {
  const disks = options.disks.map(
    (d) => `    <disk type='file' device='disk'><driver name='qemu' type='${d.format}'/><source file='${d.file}'/><target dev='${d.target}' bus='virtio'/></disk>`,
  );
  const serial = options.serialLog === true ? [`    <serial type='file'><source path='/var/log/libvirt/qemu/${name}-serial.log'/><target port='0'/></serial>`] : [];
  return [
    `<domain type='${options.type ?? (existsSync('/dev/kvm') ? 'kvm' : 'qemu')}'>`,
    `  <name>${name}</name>`,
    `  <memory unit='MiB'>${options.memoryMiB ?? 64}</memory>`,
    '  <vcpu>1</vcpu>',
    `  <os><type arch='x86_64' machine='pc'>hvm</type>${options.os ?? "<boot dev='hd'/>"}</os>`,
    ...(options.extra !== undefined ? [`  ${options.extra}`] : []),
    '  <devices>',
    ...disks,
    ...(options.devices ?? []).map((d) => `    ${d}`),
    ...serial,
    "    <video><model type='none'/></video>",
    "    <memballoon model='none'/>",
    '  </devices>',
    '</domain>',
  ].join('\n');
}

/** Shell lines (for a host's bash -c) that define `xml` as VM `name` in that host's libvirt. */
export function defineLines(name: string, xml: string): string[] {
  return [`cat > /tmp/${name}.xml <<'XML'\n${xml}\nXML`, `virsh -q -c qemu:///system define /tmp/${name}.xml >/dev/null`, `rm -f /tmp/${name}.xml`];
}
