/**
 * The domain policy (agent/libvirt/domain-policy.ts): the definitions
 * kvmclone's own tests and testbed VMs use, and a running domain's live XML,
 * which must pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { definitionRefusals, domainPolicyViolations } from '../../agent/libvirt/domain-policy.js';
import { domain } from './support/policy-domain.js';

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
