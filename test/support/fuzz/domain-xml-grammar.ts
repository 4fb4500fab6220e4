/**
 * Domain definitions for DefineDomain, built from a small grammar of the
 * libvirt elements that matter to a host: disks with file, block, dir and
 * network sources (and backingStore chains), hostdev (PCI, USB, mdev, SCSI),
 * every interface type (with and without `<script>`), seclabels that lift
 * confinement, NVRAM and loader paths, TPMs (emulator and passthrough),
 * filesystems, chardevs with files, logs and sockets, and a few elements the
 * policy has never heard of. Paths come from hostile-values, so most of them
 * point at the canaries, out of the roots, or through planted symlinks.
 */
import type { FuzzWorld } from './fuzz-world.js';
import { hostilePath, hostileVmName, markedName, randomText } from './hostile-values.js';
import type { Prng } from './prng.js';

/** XML-escapes an attribute or text value (the grammar builds well-formed XML; mutation breaks it on purpose). */
function esc(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A path for an attribute: hostile most of the time, a planned absent image under a root otherwise. */
function p(rng: Prng, world: FuzzWorld): string {
  return esc(rng.chance(0.7) ? hostilePath(rng, world) : `${rng.pick(world.roots)}/${markedName(rng, world, '.qcow2')}`);
}

function backingStore(rng: Prng, world: FuzzWorld, depth: number): string {
  if (depth > 2 || rng.chance(0.5)) return rng.chance(0.5) ? '<backingStore/>' : '';
  const type = rng.pick(['file', 'block', 'network']);
  const source =
    type === 'network'
      ? `<source protocol='${rng.pick(['nbd', 'iscsi', 'rbd', 'http'])}' name='${esc(randomText(rng, 12))}'><host name='${rng.pick(['127.0.0.1', 'localhost', '10.0.0.1'])}' port='${rng.int(65536)}'/></source>`
      : type === 'block'
        ? `<source dev='${p(rng, world)}'/>`
        : `<source file='${p(rng, world)}'/>`;
  return `<backingStore type='${type}'><format type='${rng.pick(['qcow2', 'raw', 'vmdk', 'luks'])}'/>${source}${backingStore(rng, world, depth + 1)}</backingStore>`;
}

function disk(rng: Prng, world: FuzzWorld, index: number): string {
  const type = rng.pick(['file', 'file', 'file', 'block', 'dir', 'network', 'volume', 'nvme', 'vhostuser']);
  const device = rng.pick(['disk', 'disk', 'cdrom', 'floppy', 'lun']);
  let source: string;
  if (type === 'file') source = `<source file='${p(rng, world)}'${rng.chance(0.2) ? ` startupPolicy='optional'` : ''}/>`;
  else if (type === 'block') source = `<source dev='${p(rng, world)}'/>`;
  else if (type === 'dir') source = `<source dir='${p(rng, world)}'/>`;
  else if (type === 'network')
    source = `<source protocol='${rng.pick(['nbd', 'iscsi', 'rbd', 'gluster', 'http', 'https', 'ssh'])}' name='${esc(randomText(rng, 16))}'><host ${rng.chance(0.5) ? `transport='unix' socket='${p(rng, world)}'` : `name='127.0.0.1' port='10809'`}/></source>`;
  else if (type === 'volume') source = `<source pool='${esc(randomText(rng, 8))}' volume='${esc(randomText(rng, 8))}'/>`;
  else if (type === 'nvme') source = `<source type='pci' managed='yes' namespace='1'><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>`;
  else source = `<source type='unix' path='${p(rng, world)}' mode='client'/>`;
  const dataStore = rng.chance(0.1) ? `<source file='${p(rng, world)}'><dataStore type='file'><format type='raw'/><source file='${p(rng, world)}'/></dataStore></source>` : '';
  const driver = `<driver name='qemu' type='${rng.pick(['qcow2', 'raw', 'qcow2', 'vmdk', 'luks', 'bochs'])}'${rng.chance(0.1) ? ` copy_on_read='on'` : ''}/>`;
  const extra = rng.chance(0.1)
    ? rng.pick([
        '<shareable/>',
        '<readonly/>',
        '<transient/>',
        `<mirror type='file' file='${p(rng, world)}' format='raw' job='copy'/>`,
        `<encryption format='luks'><secret type='passphrase' uuid='00000000-0000-0000-0000-000000000001'/></encryption>`,
      ])
    : '';
  return `<disk type='${type}' device='${device}'>${driver}${dataStore || source}${backingStore(rng, world, 0)}<target dev='vd${String.fromCharCode(97 + (index % 26))}' bus='${rng.pick(['virtio', 'sata', 'scsi', 'usb', 'ide'])}'/>${extra}</disk>`;
}

function hostdev(rng: Prng): string {
  switch (rng.int(4)) {
    case 0:
      return `<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x${rng.int(256).toString(16)}' slot='0x00' function='0x0'/></source></hostdev>`;
    case 1:
      return `<hostdev mode='subsystem' type='usb'><source><vendor id='0x1d6b'/><product id='0x0002'/></source></hostdev>`;
    case 2:
      return `<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>`;
    default:
      return `<hostdev mode='capabilities' type='storage'><source><block>/dev/sda</block></source></hostdev>`;
  }
}

function iface(rng: Prng, world: FuzzWorld): string {
  const type = rng.pick(['network', 'bridge', 'user', 'direct', 'hostdev', 'ethernet', 'vhostuser', 'server', 'client', 'mcast', 'udp', 'vdpa', 'null']);
  const source =
    type === 'network'
      ? `<source network='${rng.pick(['default', esc(randomText(rng, 8))])}'/>`
      : type === 'bridge'
        ? `<source bridge='${rng.pick(['virbr0', 'br0', esc(randomText(rng, 8))])}'/>`
        : type === 'direct'
          ? `<source dev='eth0' mode='${rng.pick(['vepa', 'bridge', 'passthrough'])}'/>`
          : type === 'hostdev'
            ? `<source><address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x1'/></source>`
            : type === 'vhostuser'
              ? `<source type='unix' path='${p(rng, world)}' mode='server'/>`
              : type === 'vdpa'
                ? `<source dev='/dev/vhost-vdpa-0'/>`
                : '';
  const script = rng.chance(0.25) ? `<script path='${rng.pick(['/bin/sh', '/tmp/evil', esc(hostilePath(rng, world))])}'/>` : '';
  const mac = rng.chance(0.5) ? `<mac address='52:54:00:${[0, 0, 0].map(() => rng.int(256).toString(16).padStart(2, '0')).join(':')}'/>` : '';
  return `<interface type='${type}'>${mac}${source}${script}<model type='virtio'/></interface>`;
}

function chardev(rng: Prng, world: FuzzWorld): string {
  const element = rng.pick(['serial', 'console', 'channel', 'parallel']);
  const type = rng.pick(['pty', 'file', 'unix', 'dev', 'pipe', 'tcp', 'udp', 'null', 'spicevmc', 'nmdm']);
  const source =
    type === 'file' || type === 'dev' || type === 'pipe'
      ? `<source path='${p(rng, world)}'/>`
      : type === 'unix'
        ? `<source mode='bind' path='${p(rng, world)}'/>`
        : type === 'tcp'
          ? `<source mode='bind' host='0.0.0.0' service='4555'/>`
          : '';
  const log = rng.chance(0.3) ? `<log file='${p(rng, world)}' append='on'/>` : '';
  const target = element === 'channel' ? `<target type='virtio' name='org.qemu.guest_agent.0'/>` : `<target port='0'/>`;
  return `<${element} type='${type}'>${source}${log}${target}</${element}>`;
}

function device(rng: Prng, world: FuzzWorld, index: number): string {
  switch (rng.int(14)) {
    case 0:
    case 1:
    case 2:
      return disk(rng, world, index);
    case 3:
      return hostdev(rng);
    case 4:
    case 5:
      return iface(rng, world);
    case 6:
      return chardev(rng, world);
    case 7:
      return rng.chance(0.5)
        ? `<tpm model='tpm-crb'><backend type='emulator' version='2.0'${rng.chance(0.3) ? ` persistent_state='yes'` : ''}/></tpm>`
        : `<tpm model='tpm-tis'><backend type='passthrough'><device path='${rng.pick(['/dev/tpm0', p(rng, world)])}'/></backend></tpm>`;
    case 8:
      return `<filesystem type='${rng.pick(['mount', 'block', 'file', 'ram', 'bind'])}' accessmode='${rng.pick(['passthrough', 'mapped', 'squash'])}'><driver type='${rng.pick(['virtiofs', 'path'])}'/><source dir='${p(rng, world)}'/><target dir='${esc(randomText(rng, 8))}'/></filesystem>`;
    case 9:
      return rng.pick([
        `<graphics type='${rng.pick(['vnc', 'spice', 'sdl', 'egl-headless', 'rdp', 'dbus'])}' ${rng.chance(0.5) ? `socket='${p(rng, world)}'` : "listen='0.0.0.0'"}>${rng.chance(0.3) ? `<gl enable='yes' rendernode='/dev/dri/renderD128'/>` : ''}</graphics>`,
        `<input type='${rng.pick(['tablet', 'mouse', 'keyboard', 'evdev', 'passthrough'])}' bus='${rng.pick(['usb', 'virtio', 'ps2'])}'>${rng.chance(0.5) ? `<source evdev='/dev/input/event0'/>` : ''}</input>`,
      ]);
    case 10:
      return rng.pick([
        `<rng model='virtio'><backend model='${rng.pick(['random', 'egd', 'builtin'])}'>${rng.pick(['/dev/urandom', '/dev/hwrng', p(rng, world)])}</backend></rng>`,
        `<shmem name='${esc(randomText(rng, 8))}'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>`,
        `<redirdev bus='usb' type='spicevmc'/>`,
        `<smartcard mode='passthrough' type='tcp'><source mode='bind' host='127.0.0.1' service='2001'/></smartcard>`,
        `<memory model='nvdimm'><source><path>${p(rng, world)}</path></source><target><size unit='KiB'>524288</size></target></memory>`,
        `<vsock model='virtio'><cid auto='yes'/></vsock>`,
        `<iommu model='intel'/>`,
        `<sound model='ich9'><audio id='1'/></sound>`,
        `<audio id='1' type='${rng.pick(['none', 'file', 'oss', 'pulseaudio', 'alsa'])}'${rng.chance(0.5) ? ` path='${p(rng, world)}'` : ''}/>`,
      ]);
    case 11:
      return `<emulator>${rng.pick(['/usr/bin/qemu-system-x86_64', '/bin/sh', '/tmp/evil-qemu', p(rng, world)])}</emulator>`;
    case 12:
      return `<${rng.pick(['futuredevice', 'crypto', 'pstore', 'watchdog'])} model='${esc(randomText(rng, 6))}'${rng.chance(0.5) ? ` path='${p(rng, world)}'` : ''}/>`;
    default:
      return `<controller type='${rng.pick(['usb', 'pci', 'scsi', 'virtio-serial', 'sata'])}' index='${rng.int(4)}'/>`;
  }
}

function seclabel(rng: Prng): string {
  return rng.pick([
    `<seclabel type='none'/>`,
    `<seclabel type='dynamic' model='selinux' relabel='yes'/>`,
    `<seclabel type='static' model='dac' relabel='yes'><label>0:0</label></seclabel>`,
    `<seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>`,
    `<seclabel type='dynamic' model='apparmor' relabel='no'/>`,
    `<seclabel model='dac' relabel='no'/>`,
    `<seclabel type='static' model='selinux'><label>system_u:system_r:unconfined_t:s0</label></seclabel>`,
  ]);
}

function os(rng: Prng, world: FuzzWorld): string {
  const parts = [`<type arch='x86_64' machine='${rng.pick(['pc', 'q35', 'pc-i440fx-7.2', esc(randomText(rng, 6))])}'>hvm</type>`];
  if (rng.chance(0.3)) parts.push(`<loader readonly='yes' type='${rng.pick(['pflash', 'rom'])}'>${rng.pick(['/usr/share/OVMF/OVMF_CODE.fd', p(rng, world)])}</loader>`);
  if (rng.chance(0.3)) parts.push(`<nvram${rng.chance(0.3) ? ` template='${p(rng, world)}'` : ''}>${p(rng, world)}</nvram>`);
  if (rng.chance(0.15)) parts.push(`<kernel>${p(rng, world)}</kernel><initrd>${p(rng, world)}</initrd><cmdline>${esc(randomText(rng, 20))}</cmdline>`);
  if (rng.chance(0.1)) parts.push(`<dtb>${p(rng, world)}</dtb>`);
  parts.push(`<boot dev='${rng.pick(['hd', 'cdrom', 'network'])}'/>`);
  return `<os${rng.chance(0.1) ? " firmware='efi'" : ''}>${parts.join('')}</os>`;
}

/** One domain definition, well-formed XML (hostile in content). */
export function domainXml(rng: Prng, world: FuzzWorld): string {
  const name = esc(hostileVmName(rng, world));
  const uuid = rng.chance(0.7) ? `<uuid>${[8, 4, 4, 4, 12].map((n) => rng.bytes(n / 2).toString('hex')).join('-')}</uuid>` : '';
  const devices: string[] = [];
  // The first device is an image that does not exist, so QEMU never boots a definition that starts.
  devices.push(
    `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${esc(`${rng.pick(world.roots)}/${markedName(rng, world, '.qcow2')}`)}'/><target dev='vdz' bus='virtio'/></disk>`,
  );
  const n = rng.int(6);
  for (let i = 0; i < n; i++) devices.push(device(rng, world, i));
  const top: string[] = [];
  if (rng.chance(0.2)) top.push(seclabel(rng));
  if (rng.chance(0.1))
    top.push(
      rng.pick([
        `<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-device'/><qemu:arg value='${esc(randomText(rng, 10))}'/></qemu:commandline>`,
        `<sysinfo type='fwcfg'><entry name='opt/x' file='${p(rng, world)}'/></sysinfo>`,
        `<launchSecurity type='sev'/>`,
        `<idmap><uid start='0' target='0' count='10'/></idmap>`,
      ]),
    );
  if (rng.chance(0.1)) top.push(`<metadata><x:a xmlns:x='urn:x'>${esc(randomText(rng, 30))}</x:a></metadata>`);
  const type = rng.pick(['qemu', 'qemu', 'kvm', 'xen', 'lxc', esc(randomText(rng, 4))]);
  return `<domain type='${type}'><name>${name}</name>${uuid}<memory unit='MiB'>${rng.pick([16, 32, 64, 0, 1 << 30])}</memory><vcpu>${rng.pick([1, 1, 2, 0, 4096])}</vcpu>${os(rng, world)}<devices>${devices.join('')}</devices>${top.join('')}</domain>`;
}

/** A checkpoint definition (OpenLiveView's incremental_from_xml), hostile in the same ways. */
export function checkpointXml(rng: Prng, world: FuzzWorld): string {
  return `<domaincheckpoint><name>${esc(markedName(rng, world, ''))}</name><disks><disk name='vda' checkpoint='bitmap' bitmap='${esc(randomText(rng, 8))}'/></disks>${rng.chance(0.5) ? domainXml(rng, world) : ''}</domaincheckpoint>`;
}
