/**
 * The testbed set-up the clone, sync, streams, live, replication, compress,
 * load and scale benchmarks share: both hosts started fresh (hosta first, then hostb) and
 * stopped again, and the one-disk VM they copy (64 MiB, no video, no
 * balloon, a raw disk in libvirt's images directory) defined on a host.
 * Each bench used to hold its own copy of these steps, word for word; they
 * live here so that the benches cannot drift apart in what they measure.
 */
import { hostDown, hostExec, hostUp, IMAGES } from '../support/testbed.js';

/** Stops both hosts, whatever state they were left in, then starts hosta and hostb afresh. */
export async function startHosts(): Promise<void> {
  await Promise.all([hostDown('hosta'), hostDown('hostb')]);
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
}

/** Stops both hosts. */
export async function stopHosts(): Promise<void> {
  await Promise.all([hostDown('hosta'), hostDown('hostb')]);
}

/** The libvirt XML of VM `name`: one raw virtio disk, `${IMAGES}/${name}.raw`. */
export function benchDomainXml(name: string): string {
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${IMAGES}/${name}.raw'/><target dev='vda' bus='virtio'/></disk><video><model type='none'/></video><memballoon model='none'/></devices></domain>`;
}

/** Defines VM `name` (benchDomainXml) on `host`, through a file in the host's /tmp. */
export async function defineBenchVm(host: string, name: string): Promise<void> {
  await hostExec(host, [
    'bash',
    '-c',
    `cat > /tmp/${name}.xml <<'XML'\n${benchDomainXml(name)}\nXML\nvirsh -q -c qemu:///system define /tmp/${name}.xml >/dev/null; rm -f /tmp/${name}.xml`,
  ]);
}
