import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostReferences, readDomainFacts, scaledBytes, type HostPathReference } from '../../agent/libvirt/domain-xml.js';
import { parseXml } from '../../shared/xml/parse-xml.js';
import { textContent } from '../../shared/xml/xml-tree.js';
import { throwsInvalidArgument } from '../support/kvmclone-failure.js';

const FULL = `<?xml version="1.0"?>
<!-- a comment -->
<domain type='kvm'>
  <name>web-1</name>
  <uuid>0b7e6c2e-9a3c-4d8e-8f1a-2b3c4d5e6f70</uuid>
  <memory unit='MiB'>2048</memory>
  <vcpu placement='static'>4</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>/var/lib/libvirt/qemu/nvram/web-1_VARS.fd</nvram>
  </os>
  <cpu mode='custom' match='exact'><model fallback='forbid'>Skylake-Client</model></cpu>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/images/web-1.qcow2'/>
      <backingStore type='file'><format type='qcow2'/><source file='/images/base.qcow2'/><backingStore/></backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw'/>
      <source dev='/dev/vg0/data'/>
      <target dev='vdb' bus='virtio'/>
      <shareable/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <serial type='file'><source path='/var/log/libvirt/qemu/web-1-serial.log'/><log file='/var/log/libvirt/qemu/web-1-log.log'/><target port='0'/></serial>
    <tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>
  </devices>
</domain>`;

test('readDomainFacts reads name, uuid, memory, vcpus, disks, NVRAM, TPM and CPU', () => {
  const facts = readDomainFacts(FULL);
  assert.equal(facts.name, 'web-1');
  assert.equal(facts.uuid, '0b7e6c2e-9a3c-4d8e-8f1a-2b3c4d5e6f70');
  assert.equal(facts.memoryBytes, 2048 * 1024 * 1024);
  assert.equal(facts.vcpus, 4);
  assert.deepEqual(facts.disks, [
    { type: 'file', device: 'disk', format: 'qcow2', source: '/images/web-1.qcow2', target: 'vda', readonly: false, shareable: false },
    { type: 'block', device: 'disk', format: 'raw', source: '/dev/vg0/data', target: 'vdb', readonly: false, shareable: true },
    { type: 'file', device: 'cdrom', format: 'raw', source: '', target: 'sda', readonly: true, shareable: false },
  ]);
  assert.equal(facts.nvramPath, '/var/lib/libvirt/qemu/nvram/web-1_VARS.fd');
  assert.deepEqual(facts.tpm, { backend: 'emulator', statePath: '', secret: '' });
  assert.equal(facts.cpuMode, 'custom');
  assert.equal(facts.cpuModel, 'Skylake-Client');
});

test('readDomainFacts: defaults and the other CPU modes', () => {
  const bare = readDomainFacts("<domain type='qemu'><name>a</name><memory>1024</memory></domain>");
  assert.equal(bare.memoryBytes, 1024 * 1024, 'memory defaults to KiB');
  assert.equal(bare.vcpus, 1);
  assert.equal(bare.uuid, '');
  assert.equal(bare.cpuMode, '');
  assert.equal(bare.cpuModel, '');
  assert.equal(bare.tpm, undefined);
  assert.equal(bare.nvramPath, '');
  assert.deepEqual(bare.disks, []);
  assert.equal(readDomainFacts("<domain><name>a</name><cpu mode='host-passthrough'/></domain>").cpuMode, 'host-passthrough');
  assert.equal(readDomainFacts('<domain><name>a</name><cpu><model>qemu64</model></cpu></domain>').cpuMode, 'custom');
  const tpm = readDomainFacts("<domain><name>a</name><devices><tpm><backend type='emulator'><source type='dir' path='/images/tpm'/></backend></tpm></devices></domain>");
  assert.deepEqual(tpm.tpm, { backend: 'emulator', statePath: '/images/tpm', secret: '' });
  const encrypted = readDomainFacts(
    "<domain><name>a</name><devices><tpm><backend type='emulator'><encryption secret='6dd3e4a5-1d76-44ce-961f-f119f5aad935'/></backend></tpm></devices></domain>",
  );
  assert.deepEqual(encrypted.tpm, { backend: 'emulator', statePath: '', secret: '6dd3e4a5-1d76-44ce-961f-f119f5aad935' });
});

test('readDomainFacts refuses what is not a domain definition', () => {
  throwsInvalidArgument(() => readDomainFacts('<pool><name>a</name></pool>'), /root element is <pool>/);
  throwsInvalidArgument(() => readDomainFacts('<domain><uuid>x</uuid></domain>'), /<name> is missing/);
  throwsInvalidArgument(() => readDomainFacts("<domain><name>a</name><memory unit='parsecs'>1</memory></domain>"), /unknown unit/);
  throwsInvalidArgument(() => readDomainFacts('<domain><name>a</name><vcpu>many</vcpu></domain>'), /not a count/);
});

test('scaledBytes follows libvirt: k/KiB are 1024, KB is 1000, b and bytes are 1', () => {
  assert.equal(scaledBytes('3', 'b', 'x'), 3);
  assert.equal(scaledBytes('3', 'bytes', 'x'), 3);
  assert.equal(scaledBytes('3', 'KB', 'x'), 3000);
  assert.equal(scaledBytes('3', 'k', 'x'), 3072);
  assert.equal(scaledBytes('3', 'KiB', 'x'), 3072);
  assert.equal(scaledBytes('2', 'G', 'x'), 2 * 1024 ** 3);
  assert.equal(scaledBytes('2', 'GB', 'x'), 2e9);
  assert.equal(scaledBytes(' 5 ', '', 'x'), 5 * 1024);
  throwsInvalidArgument(() => scaledBytes('-1', 'KiB', 'x'), /not a number/);
  throwsInvalidArgument(() => scaledBytes('99999999999', 'EiB', 'x'), /too large/);
});

test('parseXml decodes character references as libxml2 does', () => {
  const root = parseXml("<a p='/img/&#46;&#46;/etc/&#x73;hadow &lt;&amp;&gt;&quot;&apos;'>x<![CDATA[<y>]]><b>z</b></a>");
  assert.equal(root.attributes.p, '/img/../etc/shadow <&>"\'');
  assert.equal(root.text, 'x<y>');
  assert.equal(textContent(root), 'x<y>z');
});

test('parseXml refuses DOCTYPE, unknown entities, duplicate attributes and malformed documents', () => {
  throwsInvalidArgument(() => parseXml('<!DOCTYPE d [<!ENTITY e "/etc/shadow">]><domain><name>&e;</name></domain>'), /DOCTYPE/);
  throwsInvalidArgument(() => parseXml('<a>&nbsp;</a>'), /not well-formed/);
  throwsInvalidArgument(() => parseXml("<a b='1' b='2'/>"), /appears twice/);
  throwsInvalidArgument(() => parseXml('<a><b></a>'), /not well-formed.*line 1/);
  throwsInvalidArgument(() => parseXml('<a/><b/>'), /not well-formed/);
  throwsInvalidArgument(() => parseXml('<x:a/>'), /not well-formed/);
  throwsInvalidArgument(() => parseXml(''), /no root element/);
});

function refs(xml: string): HostPathReference[] {
  return hostReferences(parseXml(xml)).paths;
}

test('hostReferences lists every host path of a definition with its kind', () => {
  const found = refs(FULL).map((r) => `${r.kind} ${r.path} ${r.where}`);
  assert.deepEqual(found, [
    'firmware /usr/share/OVMF/OVMF_CODE_4M.fd domain/os/loader',
    'firmware /usr/share/OVMF/OVMF_VARS_4M.fd domain/os/nvram@template',
    'nvram /var/lib/libvirt/qemu/nvram/web-1_VARS.fd domain/os/nvram',
    'emulator /usr/bin/qemu-system-x86_64 domain/devices/emulator',
    'storage /images/web-1.qcow2 domain/devices/disk[1]/source@file',
    'storage /images/base.qcow2 domain/devices/disk[1]/backingStore/source@file',
    'storage /dev/vg0/data domain/devices/disk[2]/source@dev',
    'log /var/log/libvirt/qemu/web-1-serial.log domain/devices/serial/source@path',
    'log /var/log/libvirt/qemu/web-1-log.log domain/devices/serial/log@file',
  ]);
});

test('hostReferences classifies chardevs, boot files and devices, and denies unknown paths by default', () => {
  const xml = `<domain><name>a</name>
    <description>/etc/shadow is mentioned here</description>
    <metadata><app:x xmlns:app='urn:app' path='/etc/shadow'/></metadata>
    <resource><partition>/machine</partition></resource>
    <os><kernel>/var/lib/libvirt/boot/vmlinuz</kernel><initrd>/etc/<b/>shadow</initrd><cmdline>root=/dev/vda</cmdline>
      <acpi><table type='slic'>/images/slic.bin</table></acpi></os>
    <devices>
      <console type='pty'><source path='/dev/pts/3'/></console>
      <channel type='unix'><source mode='bind' path='/images/a.agent'/></channel>
      <serial type='dev'><source path='/dev/sda'/></serial>
      <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
      <interface type='ethernet'><backend tap='/dev/net/tun' vhost='/dev/vhost-net'/><script path='/etc/qemu-ifup'/></interface>
      <filesystem type='mount'><source dir='/images/share'/><target dir='/mnt/guest'/></filesystem>
      <input type='passthrough'><source evdev='/dev/input/event0'/></input>
      <memory model='nvdimm'><source><path>/etc/shadow</path></source></memory>
      <disk type='file'><source file='relative.img'/></disk>
      <disk type='network'><source protocol='nbd'><host transport='unix' socket='/run/nbd.sock'/></source></disk>
    </devices></domain>`;
  const found = refs(xml).map((r) => `${r.kind} ${r.path}`);
  assert.deepEqual(found, [
    'boot /var/lib/libvirt/boot/vmlinuz',
    'boot /etc/shadow',
    'boot /images/slic.bin',
    'tty /dev/pts/3',
    'socket /images/a.agent',
    'tty /dev/sda',
    'rng /dev/urandom',
    'net-device /dev/net/tun',
    'net-device /dev/vhost-net',
    'other /etc/qemu-ifup',
    'storage /images/share',
    'other /dev/input/event0',
    'other /etc/shadow',
    'storage relative.img',
    'other /run/nbd.sock',
  ]);
});

test('hostReferences refuses hypervisor passthrough and unconfinable storage', () => {
  const refused = (xml: string): string[] => hostReferences(parseXml(xml)).refused;
  assert.match(
    refused("<domain xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'><name>a</name><q:commandline><q:arg value='-drive'/></q:commandline></domain>")[0] ?? '',
    /commandline> of namespace http:\/\/libvirt.org\/schemas\/domain\/qemu\/1.0/,
  );
  assert.match(refused("<domain><name>a</name><devices><disk type='volume'><source pool='p' volume='v'/></disk></devices></domain>")[0] ?? '', /disk type 'volume'/);
  assert.match(refused("<domain><name>a</name><devices><hostdev mode='subsystem' type='scsi'/></devices></domain>")[0] ?? '', /hostdev type 'scsi'/);
  assert.match(
    refused("<domain><name>a</name><devices><tpm><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm></devices></domain>")[0] ?? '',
    /TPM passthrough/,
  );
  assert.deepEqual(refused(FULL), []);
  assert.deepEqual(refused("<domain><name>a</name><metadata><q:x xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'/></metadata></domain>"), []);
});
