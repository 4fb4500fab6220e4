/**
 * The domain policy (agent/libvirt/domain-policy.ts): every construct it
 * refuses, table-driven, with the reason a caller is given — and the
 * definitions kvmclone's own tests and testbed VMs use, which must pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { definitionRefusals, domainPolicyViolations } from '../../agent/libvirt/domain-policy.js';

/** A minimal domain around `devices` (and `head`: extra children of <domain>). */
function domain(devices: string, head = ''): string {
  return `<domain type='kvm'><name>p</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type></os>${head}<devices>${devices}</devices></domain>`;
}

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

const IMG = '/var/lib/libvirt/images';

const ALLOWED: readonly { name: string; xml: string }[] = [
  {
    name: 'the testbed VM (test/testbed/vm.xml.in)',
    xml: `<domain type='qemu'><name>vm1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
      <devices>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${IMG}/vm1.qcow2'/><target dev='vda' bus='virtio'/></disk>
        <serial type='file'><source path='/var/log/libvirt/qemu/vm1-serial.log'/><target port='0'/></serial>
        <video><model type='none'/></video>
        <memballoon model='none'/>
      </devices></domain>`,
  },
  {
    name: 'the two-disk VM with a user interface (test/support/two-disk-vm.ts)',
    xml: `<domain type='kvm'><name>vm2</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
      <devices>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${IMG}/vm2.qcow2'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${IMG}/vm2-data.raw'/><target dev='vdb' bus='virtio'/></disk>
        <interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>
        <serial type='file'><source path='/var/log/libvirt/qemu/vm2-serial.log'/><target port='0'/></serial>
        <video><model type='none'/></video>
        <memballoon model='none'/>
      </devices></domain>`,
  },
  {
    name: 'the live writer guest: kernel, initrd, cmdline, lifecycle actions, a guest-agent channel',
    xml: `<domain type='qemu'><name>writer</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${IMG}/vmlinuz</kernel><initrd>${IMG}/initrd</initrd><cmdline>console=ttyS0 quiet</cmdline></os>
      <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
      <devices>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${IMG}/w-vda.qcow2'/><target dev='vda' bus='virtio'/></disk>
        <serial type='file'><source path='${IMG}/w-serial.log'/><target port='0'/></serial>
        <console type='file'><source path='${IMG}/w-console.log'/><target type='serial' port='0'/></console>
        <channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/target/w.org.qemu.guest_agent.0'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
        <video><model type='none'/></video>
        <memballoon model='none'/>
      </devices></domain>`,
  },
  {
    name: 'a UEFI VM with NVRAM and an emulated TPM, as virt-install makes it',
    xml: `<domain type='kvm'><name>uefi</name><uuid>0b7e6c2e-9a3c-4d8e-8f1a-2b3c4d5e6f70</uuid><memory unit='KiB'>2097152</memory><currentMemory unit='KiB'>2097152</currentMemory><vcpu placement='static'>2</vcpu>
      <metadata><libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'/></metadata>
      <resource><partition>/machine</partition></resource>
      <os><type arch='x86_64' machine='pc-q35-8.2'>hvm</type><loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/var/lib/libvirt/qemu/nvram/uefi_VARS.fd</nvram><boot dev='hd'/></os>
      <features><acpi/><apic/><vmport state='off'/><smm state='on'/></features>
      <cpu mode='host-passthrough' check='none' migratable='on'/>
      <clock offset='utc'><timer name='rtc' tickpolicy='catchup'/><timer name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/></clock>
      <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
      <pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>
      <devices>
        <emulator>/usr/bin/qemu-system-x86_64</emulator>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2' discard='unmap'/><source file='${IMG}/uefi.qcow2'/><target dev='vda' bus='virtio'/><address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></disk>
        <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='sda' bus='sata'/><readonly/></disk>
        <controller type='usb' index='0' model='qemu-xhci' ports='15'/>
        <controller type='pci' index='0' model='pcie-root'/>
        <controller type='sata' index='0'/>
        <controller type='virtio-serial' index='0'/>
        <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/><model type='virtio'/></interface>
        <interface type='bridge'><mac address='52:54:00:aa:bb:cd'/><source bridge='br0'/><model type='virtio'/></interface>
        <serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>
        <console type='pty'><target type='serial' port='0'/></console>
        <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
        <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>
        <input type='tablet' bus='usb'/><input type='mouse' bus='ps2'/><input type='keyboard' bus='ps2'/>
        <tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>
        <graphics type='spice' autoport='yes'><listen type='address'/><image compression='off'/><gl enable='no'/></graphics>
        <sound model='ich9'/>
        <audio id='1' type='spice'/>
        <video><model type='virtio' heads='1' primary='yes'/></video>
        <redirdev bus='usb' type='spicevmc'/>
        <watchdog model='itco' action='reset'/>
        <memballoon model='virtio'/>
        <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
      </devices>
      <seclabel type='dynamic' model='dac' relabel='yes'/>
    </domain>`,
  },
];

for (const c of ALLOWED) {
  test(`allowed: ${c.name}`, () => {
    assert.deepEqual(definitionRefusals(c.xml), []);
  });
}

test("allowed: a running domain's live XML, with the labels libvirt chose for it", () => {
  const live = domain(
    "<serial type='pty'><source path='/dev/pts/3'/><target port='0'/></serial>",
    "<seclabel type='dynamic' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c1,c2</label><imagelabel>system_u:object_r:svirt_image_t:s0:c1,c2</imagelabel></seclabel>",
  );
  assert.deepEqual(domainPolicyViolations(live), []);
});
