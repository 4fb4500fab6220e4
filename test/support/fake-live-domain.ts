/**
 * What the unit tests of the fake libvirt's live-copy half (LibvirtLivePort,
 * test/unit/fake-libvirt-*.test.ts) share: a running domain 'web' with two
 * qcow2 disks, a raw one and an empty CD-ROM, the backup and checkpoint XML
 * of its jobs, and failure(), which expects a KvmcloneError. The libvirt
 * sandbox's VM (test/integration/support/libvirt-backup-sandbox.ts) has the
 * same vda, vdb and vdc, and takes its checkpoint XML from here too.
 */
import { buildBackupXml, buildCheckpointXml } from '../../agent/libvirt/backup-xml.js';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';

const VM = `<domain type='kvm'>
  <name>web</name>
  <uuid>0b7e6c2e-9a3c-4d8e-8f1a-2b3c4d5e6f70</uuid>
  <memory unit='MiB'>64</memory>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/vda.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/vdb.qcow2'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/img/vdc.raw'/><target dev='vdc' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='sda' bus='sata'/><readonly/></disk>
  </devices>
</domain>`;

export const SOCKET = '/run/kvmclone/live/backup-op.sock';

export function backupXml(incremental = '', scratchDir = '/nonexistent'): string {
  return buildBackupXml({
    socket: SOCKET,
    incremental,
    disks: [
      { target: 'vda', scratch: `${scratchDir}/vda.qcow2` },
      { target: 'vdb', scratch: `${scratchDir}/vdb.qcow2` },
    ],
  });
}

/** A checkpoint `name` of qcow2 vda and vdb (and of raw vdc, which libvirt refuses, when `raw`), described as `description`. */
export function checkpointXml(name: string, raw = false, description = 'kvmclone replica checkpoint'): string {
  return buildCheckpointXml({
    name,
    description,
    disks: [
      { target: 'vda', bitmap: true },
      { target: 'vdb', bitmap: true },
      { target: 'vdc', bitmap: raw },
    ],
  });
}

export async function running(): Promise<FakeLibvirt> {
  const fake = new FakeLibvirt();
  await fake.addDomain(VM, 'running');
  return fake;
}
