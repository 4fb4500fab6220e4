/**
 * DomainService's DefineDomain over the fake libvirt (test/support/domain-service-server.ts):
 * what it defines and what it refuses before libvirt sees the XML, libvirt's
 * stored definition checked and rolled back, and the operation lock over
 * DefineDomain and StartDomain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import { MAX_DOMAIN_XML_BYTES } from '../../agent/services/domain-service.js';
import { unaryCall } from '../../shared/agent-clients.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { useDomainServiceServer, UUID_A, UUID_B, call, clients, diskXml, fake, locks, outside, qemuImg, root, useLibvirt, vmXml } from '../support/domain-service-server.js';

useDomainServiceServer();

test('DefineDomain defines a VM whose paths are all allowed', async () => {
  const image = join(root, 'ok.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', image, '1M');
  const xml = vmXml('ok', {
    disks: [{ path: image, target: 'vda' }],
    os: `<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram>/var/lib/libvirt/qemu/nvram/ok_VARS.fd</nvram>`,
    devices:
      "<emulator>/usr/bin/qemu-system-x86_64</emulator><serial type='file'><source path='/var/log/libvirt/qemu/ok-serial.log'/></serial><console type='pty'/><rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
  });
  const res = await unaryCall(clients.domain, clients.domain.defineDomain, { xml }, call);
  assert.equal(res.domain?.name, 'ok');
  assert.equal(res.domain?.state, 'DOMAIN_STATE_SHUTOFF');
  assert.match(res.domain?.uuid ?? '', /^[0-9a-f-]{36}$/);
  assert.ok(fake.calls.includes('defineDomain'));
});

test('DefineDomain refuses host paths outside the allowed places, before libvirt sees the XML', async () => {
  await writeFile(join(outside, 'secret.img'), 'secret');
  await symlink(join(outside, 'secret.img'), join(root, 'escape.img'));
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ['disk /etc/shadow', vmXml('x', { disks: [{ path: '/etc/shadow', target: 'vda', format: 'raw' }] }), 'PERMISSION_DENIED'],
    ['disk outside the roots', vmXml('x', { disks: [{ path: join(outside, 'secret.img'), target: 'vda', format: 'raw' }] }), 'PERMISSION_DENIED'],
    ['symlink in the roots pointing out', vmXml('x', { disks: [{ path: join(root, 'escape.img'), target: 'vda', format: 'raw' }] }), 'PERMISSION_DENIED'],
    ['entity-encoded ..', vmXml('x', { disks: [{ path: `${root}/&#46;&#46;/outside/secret.img`, target: 'vda', format: 'raw' }] }), 'INVALID_ARGUMENT'],
    ['block device', vmXml('x', { disks: [{ path: '/dev/sda', target: 'vda', format: 'raw', type: 'block' }] }), 'PERMISSION_DENIED'],
    [
      'backing store outside',
      vmXml('x', { disks: [{ path: join(root, 'a.qcow2'), target: 'vda', extra: "<backingStore type='file'><format type='raw'/><source file='/etc/shadow'/></backingStore>" }] }),
      'PERMISSION_DENIED',
    ],
    ['relative disk path', vmXml('x', { disks: [{ path: 'etc/shadow', target: 'vda', format: 'raw' }] }), 'INVALID_ARGUMENT'],
    ['initrd from /etc', vmXml('x', { os: '<kernel>/var/lib/libvirt/boot/vmlinuz</kernel><initrd>/etc/shadow</initrd>' }), 'PERMISSION_DENIED'],
    ['initrd split by a child element', vmXml('x', { os: '<initrd>/etc/<b/>shadow</initrd>' }), 'PERMISSION_DENIED'],
    ['NVRAM over /etc/passwd', vmXml('x', { os: '<nvram>/etc/passwd</nvram>' }), 'PERMISSION_DENIED'],
    ['serial log truncating /etc/passwd', vmXml('x', { devices: "<serial type='file'><source path='/etc/passwd'/></serial>" }), 'PERMISSION_DENIED'],
    ['serial on a host disk', vmXml('x', { devices: "<serial type='dev'><source path='/dev/sda'/></serial>" }), 'PERMISSION_DENIED'],
    ["channel into libvirtd's socket", vmXml('x', { devices: "<channel type='unix'><source mode='connect' path='/run/libvirt/libvirt-sock'/></channel>" }), 'PERMISSION_DENIED'],
    ['emulator of our choosing', vmXml('x', { devices: '<emulator>/tmp/evil.sh</emulator>' }), 'PERMISSION_DENIED'],
    ['rng reading a host disk', vmXml('x', { devices: "<rng model='virtio'><backend model='random'>/dev/sda</backend></rng>" }), 'PERMISSION_DENIED'],
    [
      'nvdimm mapping a host file',
      vmXml('x', { devices: "<memory model='nvdimm'><source><path>/etc/shadow</path></source><target><size unit='KiB'>1024</size></target></memory>" }),
      'PERMISSION_DENIED',
    ],
    [
      'QEMU command-line passthrough',
      vmXml('x', { head: " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'" }).replace(
        '</domain>',
        "<qemu:commandline><qemu:arg value='-drive'/><qemu:arg value='file=/etc/shadow'/></qemu:commandline></domain>",
      ),
      'PERMISSION_DENIED',
    ],
    ['pool volume', vmXml('x', { devices: "<disk type='volume' device='disk'><source pool='default' volume='v'/><target dev='vdz'/></disk>" }), 'PERMISSION_DENIED'],
    ['a DOCTYPE with entities', `<!DOCTYPE d [<!ENTITY p "/etc/shadow">]>${vmXml('x', { disks: [{ path: '&p;', target: 'vda', format: 'raw' }] })}`, 'INVALID_ARGUMENT'],
    ['malformed XML', '<domain><name>x</name>', 'INVALID_ARGUMENT'],
    ['not a domain', '<pool><name>x</name></pool>', 'INVALID_ARGUMENT'],
    ['shell metacharacters in <name>', vmXml('vm1;rm -rf /'), 'INVALID_ARGUMENT'],
    ['too large', vmXml('x').replace('</domain>', `<description>${'a'.repeat(MAX_DOMAIN_XML_BYTES)}</description></domain>`), 'INVALID_ARGUMENT'],
    ['empty', '', 'INVALID_ARGUMENT'],
  ];
  for (const [what, xml, code] of cases) {
    const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml }, call), code as 'PERMISSION_DENIED');
    assert.ok(details.length > 0, what);
  }
  assert.deepEqual(fake.calls, [], 'libvirt never saw any of them');
});

test('DefineDomain refuses host devices and lifted confinement (the domain policy), naming each element, before libvirt sees the XML', async () => {
  const cases: [string, RegExp][] = [
    [
      "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>",
      /domain\/devices\/hostdev: host device passthrough \(hostdev type 'pci'\)/,
    ],
    ["<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>", /hostdev type 'usb'/],
    ["<interface type='direct'><source dev='eth0' mode='passthrough'/></interface>", /domain\/devices\/interface: interface type 'direct'/],
    ["<interface type='network'><source network='default'/><script path='/bin/true'/></interface>", /domain\/devices\/interface\/script: <script> runs a host program/],
  ];
  for (const [device, reason] of cases) {
    const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('dev', { devices: device }) }, call), 'PERMISSION_DENIED');
    assert.match(details, reason);
  }
  const details = await rejectsWithStatus(
    unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('dev').replace('</devices>', "</devices><seclabel type='none'/>") }, call),
    'PERMISSION_DENIED',
  );
  assert.match(details, /domain\/seclabel: seclabel type='none' runs QEMU without confinement/);
  assert.deepEqual(
    fake.calls.filter((c) => c.startsWith('defineDomain')),
    [],
    'libvirt never saw them',
  );
});

test('the operation lock is enforced: StartDomain and DefineDomain of a locked VM only as part of the holding operation', async () => {
  const OP = 'op-0123456789abcdef';
  await fake.addDomain(vmXml('locked', { uuid: UUID_A }));
  const release = locks.acquire('locked', OP, 'sync of locked from hosta');
  const callsBefore = fake.calls.length;
  try {
    const start = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.startDomain, { name: 'locked' }, call), 'FAILED_PRECONDITION');
    assert.match(start, new RegExp(`cannot start domain 'locked': operation ${OP} \\(sync of locked from hosta\\) holds it`));
    await rejectsWithStatus(unaryCall(clients.domain, clients.domain.startDomain, { name: 'locked', operationId: 'op-other' }, call), 'FAILED_PRECONDITION');
    const define = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('locked', { uuid: UUID_A }) }, call), 'FAILED_PRECONDITION');
    assert.match(define, new RegExp(`cannot define domain 'locked': operation ${OP}`));
    assert.deepEqual(
      fake.calls.slice(callsBefore).filter((c) => /^(startDomain|defineDomain)/.test(c)),
      [],
      'libvirt never asked',
    );
    // the holder itself may
    await unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('locked', { uuid: UUID_A }), operationId: OP }, call);
    const started = await unaryCall(clients.domain, clients.domain.startDomain, { name: 'locked', operationId: OP }, call);
    assert.equal(started.domain?.state, 'DOMAIN_STATE_RUNNING');
    // another VM is not affected
    await fake.addDomain(vmXml('free', { uuid: UUID_B }));
    await unaryCall(clients.domain, clients.domain.startDomain, { name: 'free' }, call);
  } finally {
    release();
  }
  await unaryCall(clients.domain, clients.domain.destroyDomain, { name: 'locked' }, call);
  await unaryCall(clients.domain, clients.domain.startDomain, { name: 'locked' }, call);
});

test('DefineDomain: another domain with the name is ALREADY_EXISTS; the same UUID redefines', async () => {
  await fake.addDomain(vmXml('dup', { uuid: UUID_A }));
  const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('dup', { uuid: UUID_B }) }, call), 'ALREADY_EXISTS');
  assert.match(details, /already exists with uuid/);
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('other', { uuid: UUID_A }) }, call), 'ALREADY_EXISTS');
  const res = await unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('dup', { uuid: UUID_A }).replace('<vcpu>2</vcpu>', '<vcpu>3</vcpu>') }, call);
  assert.equal(res.domain?.vcpus, 3);
});

/** A libvirt that stores something other than what it was given (a parser disagreement). */
class DisagreeingLibvirt extends FakeLibvirt {
  override async getDomainXml(name: string): Promise<string> {
    const xml = await super.getDomainXml(name);
    return this.disagree ? xml.replace('</devices>', `${diskXml({ path: '/etc/shadow', target: 'vdz', format: 'raw' })}</devices>`) : xml;
  }
  disagree = false;
}

test("DefineDomain checks libvirt's stored definition too, and rolls back when it differs", async () => {
  const disagreeing = new DisagreeingLibvirt();
  useLibvirt(disagreeing);
  // a new domain: undefined again
  disagreeing.disagree = true;
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('sneaky') }, call), 'PERMISSION_DENIED');
  assert.deepEqual(await disagreeing.listDomains(), []);
  // an existing domain: its previous definition restored
  disagreeing.disagree = false;
  await disagreeing.addDomain(vmXml('kept', { uuid: UUID_A }));
  disagreeing.disagree = true;
  await rejectsWithStatus(
    unaryCall(clients.domain, clients.domain.defineDomain, { xml: vmXml('kept', { uuid: UUID_A }).replace('<vcpu>2', '<vcpu>7') }, call),
    'PERMISSION_DENIED',
  );
  assert.equal((await disagreeing.getDomain('kept')).vcpus, 2);
});
