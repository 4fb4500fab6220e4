import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rewriteDomainXml, randomMac } from '../../controller/operations/clone/domain-xml-rewrite.js';
import { domainType, interfaceMacs } from '../../controller/operations/clone/domain-xml-read.js';
import { readDomainFacts } from '../../agent/libvirt/domain-xml.js';
import { KvmcloneError } from '../../shared/errors.js';
import { checkCpuCompatibility } from '../../controller/operations/clone/cpu-compat.js';
import type { HostFacts__Output } from '../../shared/generated/kvmclone/agent/v1/HostFacts.js';

const SOURCE = `<domain type='kvm'>
  <name>web1</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <!-- keep me -->
  <memory unit='KiB'>65536</memory>
  <os firmware='efi'><type arch='x86_64' machine='pc'>hvm</type><nvram template='/usr/share/OVMF/OVMF_VARS.fd'>/var/lib/libvirt/qemu/nvram/web1_VARS.fd</nvram></os>
  <cpu mode='host-model'/>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/web1.qcow2'/><backingStore/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/var/lib/libvirt/images/web1-data.raw'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
    <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/><model type='virtio'/></interface>
    <interface type='network'><source network='default'/></interface>
    <serial type='file'><source path='/var/log/libvirt/qemu/web1-serial.log'/><target port='0'/></serial>
  </devices>
</domain>`;

test('the clone gets a new name, UUID, MACs and remapped paths, and nothing else changes', () => {
  const macs = ['52:54:00:00:00:01', '52:54:00:00:00:02'];
  const result = rewriteDomainXml(SOURCE, {
    name: 'web1-clone',
    sourceName: 'web1',
    uuid: '99999999-8888-7777-6666-555555555555',
    diskPaths: new Map([
      ['/var/lib/libvirt/images/web1.qcow2', '/srv/vms/web1-clone.qcow2'],
      ['/var/lib/libvirt/images/web1-data.raw', '/srv/vms/web1-clone-data.raw'],
    ]),
    nvramPath: '/var/lib/libvirt/qemu/nvram/web1-clone_VARS.fd',
    newMac: () => macs.shift() ?? 'x',
  });
  const xml = result.xml;
  assert.match(xml, /<name>web1-clone<\/name>/);
  assert.match(xml, /<uuid>99999999-8888-7777-6666-555555555555<\/uuid>/);
  assert.doesNotMatch(xml, /11111111-2222/);
  assert.match(xml, /file="\/srv\/vms\/web1-clone.qcow2"/);
  assert.match(xml, /file="\/srv\/vms\/web1-clone-data.raw"/);
  assert.doesNotMatch(xml, /images\/web1/);
  assert.match(xml, />\/var\/lib\/libvirt\/qemu\/nvram\/web1-clone_VARS.fd<\/nvram>/);
  assert.match(xml, /template="\/usr\/share\/OVMF\/OVMF_VARS.fd"/);
  assert.match(xml, /<mac address="52:54:00:00:00:01"\/>/);
  assert.match(xml, /<mac address="52:54:00:00:00:02"\/>/);
  assert.doesNotMatch(xml, /aa:bb:cc/);
  assert.deepEqual(result.macs, [
    { from: '52:54:00:aa:bb:cc', to: '52:54:00:00:00:01' },
    { from: '', to: '52:54:00:00:00:02' },
  ]);
  assert.match(xml, /<!-- keep me -->/);
  assert.match(xml, /<cpu mode="host-model"\/>/);
  assert.match(xml, /\/var\/log\/libvirt\/qemu\/web1-clone-serial.log/, 'a log file named after the VM follows the new name');
  assert.match(xml, /<source network="default"\/>/, 'everything else is left alone');
  assert.doesNotMatch(xml, /backingStore/);
});

test('a disk without a planned destination is an error, not a silent copy of the source path', () => {
  assert.throws(() => rewriteDomainXml(SOURCE, { name: 'x', diskPaths: new Map() }), /no destination path was planned for disk \/var\/lib\/libvirt\/images\/web1.qcow2/);
});

test('random MACs are unicast, locally administered in 52:54:00, and differ', () => {
  const a = randomMac();
  assert.match(a, /^52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
  const many = new Set(Array.from({ length: 50 }, randomMac));
  assert.ok(many.size > 45);
});

const host = (over: Partial<HostFacts__Output>): HostFacts__Output => ({
  hostname: 'h',
  arch: 'x86_64',
  cpuModel: 'EPYC-Rome',
  cpuFeatures: ['avx2', 'sse4.2'],
  cpus: 4,
  memoryBytes: 8 << 30,
  freeMemoryBytes: 4 << 30,
  libvirtVersion: '9.0.0',
  qemuVersion: '7.2.0',
  kernelRelease: '6.1',
  usableCpuModels: ['qemu64', 'Westmere', 'EPYC-Rome'],
  kvm: true,
  ...over,
});

test('CPU: host-model passes, passthrough needs the same CPU, named models must be usable, KVM must exist', () => {
  assert.deepEqual(checkCpuCompatibility({ mode: 'host-model', model: '', domainType: 'kvm' }, host({}), host({ cpuModel: 'Skylake' }), 'hostb'), []);
  assert.throws(
    () => checkCpuCompatibility({ mode: 'host-passthrough', model: '', domainType: 'kvm' }, host({}), host({ cpuModel: 'Skylake', cpuFeatures: ['sse4.2'] }), 'hostb'),
    /host-passthrough.*EPYC-Rome.*hostb has Skylake; it lacks avx2/,
  );
  assert.deepEqual(checkCpuCompatibility({ mode: 'host-passthrough', model: '', domainType: 'kvm' }, host({}), host({}), 'hostb'), []);
  assert.throws(
    () => checkCpuCompatibility({ mode: 'custom', model: 'Icelake-Server', domainType: 'kvm' }, host({ usableCpuModels: ['Icelake-Server'] }), host({}), 'hostb'),
    /CPU model Icelake-Server is not usable on hostb/,
  );
  assert.deepEqual(checkCpuCompatibility({ mode: 'custom', model: 'Westmere', domainType: 'kvm' }, host({}), host({}), 'hostb'), []);
  const old = { usableCpuModels: ['pentium3', '486'] };
  assert.equal(checkCpuCompatibility({ mode: 'custom', model: 'qemu64', domainType: 'kvm' }, host(old), host(old), 'hostb').length, 1, 'unusable on both alike hosts: a warning');
  assert.throws(() => checkCpuCompatibility({ mode: 'custom', model: 'qemu64', domainType: 'kvm' }, host({}), host(old), 'hostb'), /qemu64 is not usable on hostb/);
  assert.equal(checkCpuCompatibility({ mode: 'custom', model: 'Westmere', domainType: 'kvm' }, host({}), host({ usableCpuModels: [] }), 'hostb').length, 1);
  assert.throws(() => checkCpuCompatibility({ mode: '', model: '', domainType: 'kvm' }, host({}), host({ kvm: false }), 'hostb'), /cannot run KVM guests/);
  assert.deepEqual(checkCpuCompatibility({ mode: '', model: '', domainType: 'qemu' }, host({}), host({ kvm: false }), 'hostb'), []);
  assert.throws(() => checkCpuCompatibility({ mode: '', model: '', domainType: 'qemu' }, host({}), host({ arch: 'aarch64' }), 'hostb'), /aarch64/);
});

test("linkDown puts every interface's link down, an existing <link> too; without it no link is added", () => {
  const paths = new Map([
    ['/var/lib/libvirt/images/web1.qcow2', '/a.qcow2'],
    ['/var/lib/libvirt/images/web1-data.raw', '/b.raw'],
  ]);
  const withLink = SOURCE.replace("<source network='default'/></interface>", "<source network='default'/><link state='up'/></interface>");
  const down = rewriteDomainXml(withLink, { name: 'web1-drill', diskPaths: paths, linkDown: true }).xml;
  assert.equal(down.match(/<link state="down"\/>/g)?.length, 2, down);
  assert.doesNotMatch(down, /state="up"|state='up'/);
  assert.doesNotMatch(rewriteDomainXml(SOURCE, { name: 'web1-drill', diskPaths: paths }).xml, /<link /);
});

test('the rewrite reads with the strict parser: a DOCTYPE, an entity or a malformed source is refused, not rewritten', () => {
  const paths = new Map([
    ['/var/lib/libvirt/images/web1.qcow2', '/a.qcow2'],
    ['/var/lib/libvirt/images/web1-data.raw', '/b.raw'],
  ]);
  for (const [bad, why] of [
    [`<!DOCTYPE domain [<!ENTITY e "/etc/shadow">]>${SOURCE}`, /DOCTYPE is not allowed/],
    [SOURCE.replace('<name>web1</name>', '<name>&e;</name>'), /not well-formed/],
    [SOURCE.replace('</devices>', ''), /not well-formed/],
    ['<network><name>web1</name></network>', /not a <domain> document/],
  ] as const) {
    assert.throws(
      () => rewriteDomainXml(bad, { name: 'x', diskPaths: paths }),
      (err: unknown) => {
        assert.ok(err instanceof KvmcloneError);
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, why);
        return true;
      },
    );
  }
});

test('what the rewrite does not touch is kept: declaration, comments, CDATA, instructions, namespaced elements, layout', () => {
  const source = `<?xml version="1.0"?>\n<!-- top -->\n${SOURCE.replace(
    '</devices>',
    "</devices>\n  <metadata><app:x xmlns:app='urn:app'><![CDATA[<raw>]]></app:x><?keep me?></metadata>",
  ).replace('<name>web1</name>', '<name>web1</name><title>a &amp; b</title>')}\n`;
  const paths = new Map([
    ['/var/lib/libvirt/images/web1.qcow2', '/a.qcow2'],
    ['/var/lib/libvirt/images/web1-data.raw', '/b.raw'],
  ]);
  const { xml } = rewriteDomainXml(source, { name: 'web1-clone', uuid: 'u-1', diskPaths: paths, newMac: () => '52:54:00:00:00:09' });
  assert.ok(
    xml.startsWith('<?xml version="1.0"?>\n<!-- top -->\n<domain type="kvm">\n  <name>web1-clone</name><title>a &amp; b</title>\n  <uuid>u-1</uuid>\n  <!-- keep me -->\n'),
    xml,
  );
  assert.match(xml, /<metadata><app:x xmlns:app="urn:app"><!\[CDATA\[<raw>\]\]><\/app:x><\?keep me\?><\/metadata>\n<\/domain>\n$/);
  const facts = readDomainFacts(xml);
  assert.deepEqual([facts.name, facts.uuid, facts.disks.map((d) => d.source)], ['web1-clone', 'u-1', ['/a.qcow2', '/b.raw', '']]);
  const noUuid = rewriteDomainXml(SOURCE.replace(/\n {2}<uuid>.*<\/uuid>/, ''), { name: 'n', uuid: 'u-2', diskPaths: paths }).xml;
  assert.match(noUuid, /<name>n<\/name><uuid>u-2<\/uuid>\n/, 'a missing <uuid> is added right after <name>');
});

test('domainType and interfaceMacs read the definition, not its text: comments and metadata do not count', () => {
  const xml = `<domain type="qemu" id='3'>
  <name>w</name>
  <metadata><note><![CDATA[<mac address='52:54:00:00:00:ff'/>]]></note></metadata>
  <devices>
    <!-- <interface type='network'><mac address='52:54:00:00:00:ee'/></interface> -->
    <interface type='network'><model type='virtio'/><mac address="52:54:00:00:00:01"/></interface>
    <interface type='bridge'><source bridge='br0'/></interface>
    <interface type='user'><mac address='52:54:00:00:00:02'/></interface>
    <hostdev mode='subsystem' type='pci'><mac address='52:54:00:00:00:dd'/></hostdev>
  </devices>
</domain>`;
  assert.deepEqual(interfaceMacs(xml), ['52:54:00:00:00:01', '52:54:00:00:00:02']);
  assert.equal(domainType(xml), 'qemu');
  assert.equal(domainType(`<domain><name>w</name></domain>`), 'kvm');
  assert.equal(domainType(`<domain id="1" type='kvm'><name>w</name></domain>`), 'kvm');
  assert.deepEqual(interfaceMacs(`<domain><name>w</name></domain>`), []);
});

test("TPM state and a pty console's <log file> follow the clone; the pty's own source path stays", () => {
  const source = SOURCE.replace(
    '</devices>',
    "<console type='pty'><source path='/dev/pts/web1'/><log file='/var/log/libvirt/qemu/web1-console.log'/></console>" +
      "<tpm model='tpm-crb'><backend type='emulator' version='2.0'><source type='dir' path='/var/lib/swtpm/web1'/></backend></tpm></devices>",
  );
  const paths = new Map([
    ['/var/lib/libvirt/images/web1.qcow2', '/a.qcow2'],
    ['/var/lib/libvirt/images/web1-data.raw', '/b.raw'],
  ]);
  const { xml } = rewriteDomainXml(source, { name: 'web2', sourceName: 'web1', diskPaths: paths, tpmStatePath: '/var/lib/swtpm/web2' });
  assert.match(xml, /<console type="pty"><source path="\/dev\/pts\/web1"\/><log file="\/var\/log\/libvirt\/qemu\/web2-console.log"\/><\/console>/);
  assert.match(xml, /<source type="dir" path="\/var\/lib\/swtpm\/web2"\/>/);
});
