/**
 * The domain policy (agent/libvirt/domain-policy.ts): every construct it
 * refuses, table-driven, with the reason a caller is given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { definitionRefusals, domainPolicyViolations } from '../../agent/libvirt/domain-policy.js';
import { domain } from './support/policy-domain.js';

const REFUSED: readonly { name: string; xml: string; where: string; reason: RegExp }[] = [
  {
    name: 'PCI hostdev',
    xml: domain("<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>"),
    where: 'domain/devices/hostdev',
    reason: /host device passthrough \(hostdev type 'pci'\)/,
  },
  {
    name: 'USB hostdev',
    xml: domain("<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>"),
    where: 'domain/devices/hostdev',
    reason: /host device passthrough \(hostdev type 'usb'\)/,
  },
  {
    name: 'mdev hostdev',
    xml: domain("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>"),
    where: 'domain/devices/hostdev',
    reason: /host device passthrough \(hostdev type 'mdev'\)/,
  },
  {
    name: "interface type='hostdev'",
    xml: domain("<interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/></source></interface>"),
    where: 'domain/devices/interface',
    reason: /interface type 'hostdev' hands the guest a host network device/,
  },
  {
    name: "interface type='direct' (macvtap on a host NIC)",
    xml: domain("<interface type='direct'><source dev='eth0' mode='passthrough'/></interface>"),
    where: 'domain/devices/interface',
    reason: /interface type 'direct' hands the guest a host network device/,
  },
  {
    name: '<interface><script path>',
    xml: domain("<interface type='bridge'><source bridge='br0'/><script path='/etc/qemu-ifup'/></interface>"),
    where: 'domain/devices/interface/script',
    reason: /<script> runs a host program as root/,
  },
  {
    name: '<interface><downscript path>',
    xml: domain("<interface type='network'><source network='default'/><downscript path='/tmp/x'/></interface>"),
    where: 'domain/devices/interface/downscript',
    reason: /<downscript> runs a host program as root/,
  },
  {
    name: "seclabel type='none'",
    xml: domain('', "<seclabel type='none'/>"),
    where: 'domain/seclabel',
    reason: /type='none' runs QEMU without confinement/,
  },
  {
    name: "seclabel relabel='no'",
    xml: domain('', "<seclabel type='dynamic' model='selinux' relabel='no'/>"),
    where: 'domain/seclabel',
    reason: /relabel='no' turns off labelling/,
  },
  {
    name: 'static DAC seclabel running QEMU as root',
    xml: domain('', "<seclabel type='static' model='dac' relabel='yes'><label>+0:+0</label></seclabel>"),
    where: 'domain/seclabel',
    reason: /seclabel type='static' sets the label by hand/,
  },
  {
    name: 'static SELinux seclabel (unconfined)',
    xml: domain('', "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:unconfined_t:s0</label></seclabel>"),
    where: 'domain/seclabel',
    reason: /seclabel type='static'/,
  },
  {
    name: 'dynamic seclabel with a base label',
    xml: domain('', "<seclabel type='dynamic' model='selinux'><baselabel>system_u:system_r:unconfined_t:s0</baselabel></seclabel>"),
    where: 'domain/seclabel',
    reason: /<baselabel> chooses the base domain/,
  },
  {
    name: "disk-level seclabel relabel='no'",
    xml: domain("<disk type='file' device='disk'><source file='/var/lib/libvirt/images/a.qcow2'><seclabel model='selinux' relabel='no'/></source><target dev='vda'/></disk>"),
    where: 'domain/devices/disk/source/seclabel',
    reason: /relabel='no'/,
  },
  {
    name: 'disk-level seclabel with a label (root)',
    xml: domain(
      "<disk type='file' device='disk'><source file='/var/lib/libvirt/images/a.qcow2'><seclabel model='dac'><label>root:root</label></seclabel></source><target dev='vda'/></disk>",
    ),
    where: 'domain/devices/disk/source/seclabel',
    reason: /<seclabel model='dac'><label> sets a label by hand/,
  },
  {
    name: "serial type='dev' (a host tty)",
    xml: domain("<serial type='dev'><source path='/dev/ttyS0'/><target port='0'/></serial>"),
    where: 'domain/devices/serial',
    reason: /serial type 'dev' attaches the guest to a host device/,
  },
  {
    name: "console type='tcp'",
    xml: domain("<console type='tcp'><source mode='bind' host='0.0.0.0' service='4555'/></console>"),
    where: 'domain/devices/console',
    reason: /console type 'tcp'/,
  },
  {
    name: 'evdev input passthrough',
    xml: domain("<input type='evdev'><source dev='/dev/input/event1'/></input>"),
    where: 'domain/devices/input',
    reason: /input type 'evdev' hands the guest a host input device/,
  },
  {
    name: 'egl-headless graphics (host GPU)',
    xml: domain("<graphics type='egl-headless'><gl rendernode='/dev/dri/renderD128'/></graphics>"),
    where: 'domain/devices/graphics',
    reason: /graphics type 'egl-headless' uses a host display or GPU/,
  },
  {
    name: 'spice with GL (host render node)',
    xml: domain("<graphics type='spice'><gl enable='yes'/></graphics>"),
    where: 'domain/devices/graphics/gl',
    reason: /host GPU render node/,
  },
  {
    name: 'host sound device',
    xml: domain("<audio id='1' type='alsa'/>"),
    where: 'domain/devices/audio',
    reason: /audio type 'alsa' reaches a host sound device/,
  },
  {
    name: 'TPM passthrough',
    xml: domain("<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>"),
    where: 'domain/devices/tpm/backend',
    reason: /TPM backend 'passthrough' reaches a host TPM/,
  },
  {
    name: 'rng from an egd socket',
    xml: domain("<rng model='virtio'><backend model='egd' type='tcp'><source mode='connect' host='1.2.3.4' service='1234'/></backend></rng>"),
    where: 'domain/devices/rng/backend',
    reason: /rng backend model 'egd'/,
  },
  {
    name: 'USB redirection from a TCP socket',
    xml: domain("<redirdev bus='usb' type='tcp'><source mode='connect' host='1.2.3.4' service='4000'/></redirdev>"),
    where: 'domain/devices/redirdev',
    reason: /redirdev type 'tcp' redirects a USB device/,
  },
  {
    name: 'shared memory with the host',
    xml: domain("<shmem name='ivshmem'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>"),
    where: 'domain/devices/shmem',
    reason: /<shmem> is not a device kvmclone allows/,
  },
  {
    name: 'smartcard passthrough',
    xml: domain("<smartcard mode='host'/>"),
    where: 'domain/devices/smartcard',
    reason: /<smartcard> is not a device kvmclone allows/,
  },
  {
    name: 'an unknown device (deny by default)',
    xml: domain('<frobnicator/>'),
    where: 'domain/devices/frobnicator',
    reason: /<frobnicator> is not a device kvmclone allows/,
  },
  {
    name: 'a Xen host bootloader',
    xml: domain('', '<bootloader>/usr/bin/pygrub</bootloader>'),
    where: 'domain/bootloader',
    reason: /<bootloader> is not allowed in <domain>/,
  },
  {
    name: 'host perf counters',
    xml: domain('', "<perf><event name='cmt' enabled='yes'/></perf>"),
    where: 'domain/perf',
    reason: /<perf> is not allowed in <domain>/,
  },
  {
    name: 'a container init in <os>',
    xml: "<domain type='kvm'><name>p</name><os><type>hvm</type><init>/bin/sh</init></os><devices/></domain>",
    where: 'domain/os/init',
    reason: /<init> is not allowed in <os>/,
  },
  {
    name: 'a non-KVM domain type',
    xml: "<domain type='lxc'><name>p</name><os><type>exe</type></os><devices/></domain>",
    where: 'domain',
    reason: /domain type 'lxc'/,
  },
  {
    name: "interface type='vhostuser'",
    xml: domain("<interface type='vhostuser'><source type='unix' path='/run/x.sock' mode='client'/></interface>"),
    where: 'domain/devices/interface',
    reason: /interface type 'vhostuser'/,
  },
];

for (const c of REFUSED) {
  test(`refused: ${c.name}`, () => {
    const violations = domainPolicyViolations(c.xml);
    const hit = violations.find((v) => v.where === c.where);
    assert.ok(hit, `a violation at ${c.where}; got ${JSON.stringify(violations)}`);
    assert.match(hit.reason, c.reason);
    // what DefineDomain and DescribeDomain say carries the place and the reason
    assert.ok(definitionRefusals(c.xml).some((r) => r.startsWith(`${c.where}: `) && c.reason.test(r)));
  });
}

test('refused: SCSI hostdevs and QEMU passthrough stay refused (hostReferences) and are listed with the rest', () => {
  const xml = domain("<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source></hostdev>")
    .replace("<domain type='kvm'>", "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>")
    .replace('</devices>', "</devices><qemu:commandline><qemu:arg value='-device'/></qemu:commandline>");
  const refusals = definitionRefusals(xml);
  assert.ok(
    refusals.some((r) => /host storage passthrough/.test(r)),
    refusals.join('\n'),
  );
  assert.ok(
    refusals.some((r) => /hypervisor passthrough/.test(r)),
    refusals.join('\n'),
  );
});
