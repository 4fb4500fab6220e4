/**
 * DomainService and StorageService over the fake libvirt, through a real
 * in-process gRPC server on a temporary unix socket (so status codes are the
 * ones a client sees), with real image files made by qemu-img.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, symlink, writeFile, access, lstat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import type { LibvirtPort } from '../../agent/libvirt/libvirt-port.js';
import { createDomainService, MAX_DOMAIN_XML_BYTES } from '../../agent/services/domain-service.js';
import { createStorageService } from '../../agent/services/storage-service.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { LockRegistry } from '../../agent/transfer/lock-registry.js';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { loadAgentProto } from '../../shared/proto.js';
import { rejectsWithStatus } from '../support/grpc-status.js';

const UUID_A = '0b7e6c2e-9a3c-4d8e-8f1a-2b3c4d5e6f70';
const UUID_B = '1c8f7d3f-0b4d-4e9f-9a2b-3c4d5e6f7081';

let base: string;
let root: string;
let outside: string;
let swtpm: string;
let roots: ImageRoots;
let fake: FakeLibvirt;
let server: grpc.Server;
let clients: AgentClients;
/** The agent's operation locks, as HoldLock would take them. */
const locks = new LockRegistry();

async function startServer(): Promise<void> {
  const v1 = loadAgentProto().proto.kvmclone.agent.v1;
  const rpc = { log: pino({ level: 'silent' }), shutdown: new AbortController().signal };
  // The services hold this port; it forwards to the current test's fake.
  const port: LibvirtPort = {
    listDomains: (o) => fake.listDomains(o),
    getDomain: (n, o) => fake.getDomain(n, o),
    getDomainXml: (n, o) => fake.getDomainXml(n, o),
    defineDomain: (x, o) => fake.defineDomain(x, o),
    startDomain: (n, o) => fake.startDomain(n, o),
    resumeDomain: (n, o) => fake.resumeDomain(n, o),
    shutdownDomain: (n, o) => fake.shutdownDomain(n, o),
    destroyDomain: (n, o) => fake.destroyDomain(n, o),
    undefineDomain: (n, r, o) => fake.undefineDomain(n, r, o),
    hostFacts: (o) => fake.hostFacts(o),
    listPools: (o) => fake.listPools(o),
    secretUsage: (u, o) => fake.secretUsage(u, o),
    close: () => fake.close(),
  };
  server = new grpc.Server();
  server.addService(v1.DomainService.service, createDomainService({ rpc, libvirt: port, roots, swtpmStateRoot: swtpm, locks }));
  server.addService(v1.StorageService.service, createStorageService({ rpc, libvirt: port, roots }));
  const socket = join(base, 'agent.sock');
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  clients = createAgentClients(`unix:${socket}`);
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'kvmclone-domain-svc-'));
  root = join(base, 'images');
  outside = join(base, 'outside');
  swtpm = join(base, 'swtpm');
  await mkdir(root);
  await mkdir(outside);
  await mkdir(swtpm);
  roots = await ImageRoots.open([root]);
  fake = new FakeLibvirt();
  await startServer();
});

after(async () => {
  clients.close();
  server.forceShutdown();
  await rm(base, { recursive: true, force: true });
});

beforeEach(() => {
  fake = new FakeLibvirt({
    pools: [
      { name: 'default', uuid: UUID_B, type: 'dir', path: '/var/lib/libvirt/images', active: true, autostart: true, capacityBytes: 100, allocationBytes: 40, availableBytes: 60 },
    ],
  });
});

const call = { deadlineMs: 10_000 };

function qemuImg(...args: string[]): void {
  execFileSync('qemu-img', args, { stdio: 'ignore' });
}

interface DiskSpec {
  path?: string;
  target: string;
  format?: string;
  device?: string;
  type?: string;
  extra?: string;
}

function diskXml(d: DiskSpec): string {
  const type = d.type ?? 'file';
  const source = d.path === undefined ? '' : `<source ${type === 'block' ? 'dev' : 'file'}='${d.path}'/>`;
  return `<disk type='${type}' device='${d.device ?? 'disk'}'><driver name='qemu' type='${d.format ?? 'qcow2'}'/>${source}<target dev='${d.target}' bus='virtio'/>${d.extra ?? ''}</disk>`;
}

function vmXml(name: string, options: { uuid?: string; disks?: DiskSpec[]; os?: string; devices?: string; head?: string } = {}): string {
  return `<domain type='qemu'${options.head ?? ''}><name>${name}</name>${options.uuid ? `<uuid>${options.uuid}</uuid>` : ''}<memory unit='MiB'>64</memory><vcpu>2</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type>${options.os ?? ''}</os>
    <devices>${(options.disks ?? []).map(diskXml).join('')}${options.devices ?? ''}</devices></domain>`;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

const BAD_NAMES = ['vm1;rm -rf /', '$(id)', '../etc', '', 'a b', '-rf', 'x'.repeat(65)];

test('every RPC that takes a name refuses a bad one before libvirt sees it', async () => {
  const d = clients.domain;
  for (const name of BAD_NAMES) {
    await rejectsWithStatus(unaryCall(d, d.describeDomain, { name }, call), 'INVALID_ARGUMENT');
    await rejectsWithStatus(unaryCall(d, d.startDomain, { name }, call), 'INVALID_ARGUMENT');
    await rejectsWithStatus(unaryCall(d, d.shutdownDomain, { name }, call), 'INVALID_ARGUMENT');
    await rejectsWithStatus(unaryCall(d, d.destroyDomain, { name }, call), 'INVALID_ARGUMENT');
    await rejectsWithStatus(unaryCall(d, d.undefineDomain, { name, storage: 'STORAGE_POLICY_KEEP' }, call), 'INVALID_ARGUMENT');
    await rejectsWithStatus(unaryCall(d, d.defineDomain, { xml: vmXml(name.replace(/[<>&']/g, '')) }, call), 'INVALID_ARGUMENT');
  }
  assert.deepEqual(fake.calls, [], 'libvirt was never called');
});

test('ListDomains maps records and states to the wire', async () => {
  await fake.addDomain(vmXml('b-running', { uuid: UUID_B }), 'running');
  await fake.addDomain(vmXml('a-off', { uuid: UUID_A }));
  await fake.addDomain(vmXml('c-paused'), 'paused');
  const res = await unaryCall(clients.domain, clients.domain.listDomains, {}, call);
  assert.deepEqual(
    res.domains.map((d) => [d.name, d.state]),
    [
      ['a-off', 'DOMAIN_STATE_SHUTOFF'],
      ['b-running', 'DOMAIN_STATE_RUNNING'],
      ['c-paused', 'DOMAIN_STATE_PAUSED'],
    ],
  );
  assert.deepEqual(res.domains[0], { name: 'a-off', uuid: UUID_A, state: 'DOMAIN_STATE_SHUTOFF', persistent: true, vcpus: 2, memoryBytes: 64 * 1024 * 1024 });
});

test('libvirtd down is UNAVAILABLE', async () => {
  fake.unavailable = true;
  const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.listDomains, {}, call), 'UNAVAILABLE');
  assert.match(details, /libvirtd is unreachable/);
});

test('DescribeDomain: sizes, formats and backing chains from qemu-img; NVRAM, TPM and CPU from the XML', async () => {
  const dir = join(root, 'describe');
  await mkdir(dir);
  qemuImg('create', '-q', '-f', 'qcow2', join(dir, 'base.qcow2'), '64M');
  qemuImg('create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', 'base.qcow2', join(dir, 'top.qcow2'));
  qemuImg('create', '-q', '-f', 'raw', join(dir, 'data.raw'), '1M');
  const xml = vmXml('desc', {
    uuid: UUID_A,
    os: `<nvram>${join(root, 'desc_VARS.fd')}</nvram>`,
    disks: [
      { path: join(dir, 'top.qcow2'), target: 'vda' },
      { path: join(dir, 'data.raw'), target: 'vdb', format: 'raw', extra: '<shareable/>' },
      { target: 'hdc', device: 'cdrom', format: 'raw', extra: '<readonly/>' },
      { path: join(dir, 'deleted-installer.iso'), target: 'hdd', device: 'cdrom', format: 'raw', extra: '<readonly/>' },
    ],
    devices: "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>",
  }).replace('<vcpu>', "<cpu mode='host-model'/><vcpu>");
  await fake.addDomain(xml, 'running');
  const res = await unaryCall(clients.domain, clients.domain.describeDomain, { name: 'desc' }, call);
  assert.equal(res.domain?.state, 'DOMAIN_STATE_RUNNING');
  assert.equal(res.xml, xml);
  assert.equal(res.nvramPath, join(root, 'desc_VARS.fd'));
  assert.equal(res.tpmStatePath, join(swtpm, UUID_A));
  assert.deepEqual(res.tpmStateFiles, [], 'a state directory outside the image roots is not listed');
  assert.equal(res.tpmSecret, '');
  assert.equal(res.cpuMode, 'host-model');
  assert.equal(res.cpuModel, '');
  const [vda, vdb, hdc, hdd] = res.disks;
  assert.ok(vda && vdb && hdc && hdd && res.disks.length === 4);
  assert.equal(vda.path, join(dir, 'top.qcow2'));
  assert.equal(vda.format, 'qcow2');
  assert.equal(vda.virtualSize, 64 * 1024 * 1024);
  assert.ok(vda.allocatedSize > 0);
  assert.equal(vda.backingReference, 'base.qcow2');
  assert.deepEqual(
    vda.backingChain.map((b) => [b.path, b.format, b.virtualSize, b.backingReference]),
    [[join(dir, 'base.qcow2'), 'qcow2', 64 * 1024 * 1024, '']],
  );
  assert.deepEqual([vdb.format, vdb.virtualSize, vdb.shareable, vdb.readonly, vdb.backingChain.length], ['raw', 1024 * 1024, true, false, 0]);
  assert.deepEqual([hdc.device, hdc.path, hdc.virtualSize, hdc.readonly], ['cdrom', '', 0, true]);
  assert.deepEqual([hdd.path, hdd.virtualSize], [join(dir, 'deleted-installer.iso'), 0], 'missing removable media is listed, not an error');
});

test('DescribeDomain lists the TPM state files under the roots (relative, no lock, no symlink) and the encryption secret', async () => {
  const state = join(root, 'tpm-desc');
  await mkdir(join(state, 'tpm2'), { recursive: true });
  await writeFile(join(state, 'tpm2', 'tpm2-00.permall'), 'state');
  await writeFile(join(state, 'tpm2', '.lock'), '');
  await symlink('/etc/shadow', join(state, 'tpm2', 'sneaky'));
  const secret = '6dd3e4a5-1d76-44ce-961f-f119f5aad935';
  const xml = vmXml('tpmdesc', {
    devices: `<tpm model='tpm-crb'><backend type='emulator' version='2.0'><source type='dir' path='${state}'/><encryption secret='${secret}'/></backend></tpm>`,
  });
  await fake.addDomain(xml);
  const res = await unaryCall(clients.domain, clients.domain.describeDomain, { name: 'tpmdesc' }, call);
  assert.equal(res.tpmStatePath, state);
  assert.deepEqual(res.tpmStateFiles, ['tpm2/tpm2-00.permall']);
  assert.equal(res.tpmSecret, secret);
});

test('DescribeSecret says whether libvirt has a secret and its usage, and refuses a malformed UUID', async () => {
  const d = clients.domain;
  const uuid = '6dd3e4a5-1d76-44ce-961f-f119f5aad935';
  assert.deepEqual(await unaryCall(d, d.describeSecret, { uuid }, call), { defined: false, usageType: '' });
  fake.addSecret(uuid, 'vtpm');
  assert.deepEqual(await unaryCall(d, d.describeSecret, { uuid: uuid.toUpperCase() }, call), { defined: true, usageType: 'vtpm' });
  await rejectsWithStatus(unaryCall(d, d.describeSecret, { uuid: '../../etc' }, call), 'INVALID_ARGUMENT');
});

test('DescribeDomain fails naming the disk when an image is missing or its content disagrees with libvirt', async () => {
  await fake.addDomain(vmXml('lost', { disks: [{ path: join(root, 'gone.qcow2'), target: 'vda' }] }));
  const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.describeDomain, { name: 'lost' }, call), 'FAILED_PRECONDITION');
  assert.match(details, /disk vda: .*gone\.qcow2 does not exist/);
  // a "raw" disk whose guest wrote a qcow2 header naming a host file as backing file
  const forged = join(root, 'forged.raw');
  qemuImg('create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/hostname', forged);
  await fake.addDomain(vmXml('forged', { disks: [{ path: forged, target: 'vda', format: 'raw' }] }));
  const forgedDetails = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.describeDomain, { name: 'forged' }, call), 'FAILED_PRECONDITION');
  assert.match(forgedDetails, /libvirt opens .* as raw, but its content reads as qcow2/);
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.describeDomain, { name: 'nope' }, call), 'NOT_FOUND');
});

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

test('DescribeDomain lists what the domain policy refuses in a definition, so clone and sync can refuse before copying', async () => {
  await fake.addDomain(
    vmXml('withdev', { devices: "<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>" }),
  );
  await fake.addDomain(vmXml('plain'));
  const bad = await unaryCall(clients.domain, clients.domain.describeDomain, { name: 'withdev' }, call);
  assert.equal(bad.policyViolations.length, 1);
  assert.match(bad.policyViolations[0] ?? '', /^domain\/devices\/hostdev: host device passthrough/);
  const good = await unaryCall(clients.domain, clients.domain.describeDomain, { name: 'plain' }, call);
  assert.deepEqual(good.policyViolations, []);
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
  fake = disagreeing;
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

test('StartDomain and DestroyDomain check the state first', async () => {
  await fake.addDomain(vmXml('life'));
  const started = await unaryCall(clients.domain, clients.domain.startDomain, { name: 'life' }, call);
  assert.equal(started.domain?.state, 'DOMAIN_STATE_RUNNING');
  assert.match(await rejectsWithStatus(unaryCall(clients.domain, clients.domain.startDomain, { name: 'life' }, call), 'FAILED_PRECONDITION'), /it is running, not shut off/);
  const destroyed = await unaryCall(clients.domain, clients.domain.destroyDomain, { name: 'life' }, call);
  assert.equal(destroyed.domain?.state, 'DOMAIN_STATE_SHUTOFF');
  assert.match(await rejectsWithStatus(unaryCall(clients.domain, clients.domain.destroyDomain, { name: 'life' }, call), 'FAILED_PRECONDITION'), /already shut off/);
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.startDomain, { name: 'nope' }, call), 'NOT_FOUND');
});

test('StartDomain paused leaves the CPUs stopped; ResumeDomain runs it, only when paused and only for the lock holder', async () => {
  const OP = 'op-fedcba9876543210';
  await fake.addDomain(vmXml('firstinstant', { uuid: UUID_A }));
  const paused = await unaryCall(clients.domain, clients.domain.startDomain, { name: 'firstinstant', paused: true }, call);
  assert.equal(paused.domain?.state, 'DOMAIN_STATE_PAUSED');
  const release = locks.acquire('firstinstant', OP, 'failover of replica r1');
  try {
    assert.match(
      await rejectsWithStatus(unaryCall(clients.domain, clients.domain.resumeDomain, { name: 'firstinstant' }, call), 'FAILED_PRECONDITION'),
      new RegExp(`cannot resume domain 'firstinstant': operation ${OP}`),
    );
    const resumed = await unaryCall(clients.domain, clients.domain.resumeDomain, { name: 'firstinstant', operationId: OP }, call);
    assert.equal(resumed.domain?.state, 'DOMAIN_STATE_RUNNING');
  } finally {
    release();
  }
  assert.match(await rejectsWithStatus(unaryCall(clients.domain, clients.domain.resumeDomain, { name: 'firstinstant' }, call), 'FAILED_PRECONDITION'), /it is running, not paused/);
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.resumeDomain, { name: 'nope' }, call), 'NOT_FOUND');
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.resumeDomain, { name: '../x' }, call), 'INVALID_ARGUMENT');
});

test('ShutdownDomain returns at once without a wait, and waits for power-off with one', async () => {
  await fake.addDomain(vmXml('s1'), 'running');
  fake.guestShutdown = 'ignore';
  const now = await unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 's1', waitSeconds: 0 }, call);
  assert.equal(now.domain?.state, 'DOMAIN_STATE_RUNNING');
  fake.guestShutdown = 'poweroff';
  fake.shutdownDelayMs = 600;
  const started = Date.now();
  const waited = await unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 's1', waitSeconds: 5 }, call);
  assert.equal(waited.domain?.state, 'DOMAIN_STATE_SHUTOFF');
  assert.ok(Date.now() - started >= 500, 'it waited for the guest');
  assert.match(await rejectsWithStatus(unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 's1' }, call), 'FAILED_PRECONDITION'), /already shut off/);
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 's1', waitSeconds: 3601 }, call), 'INVALID_ARGUMENT');
});

test('ShutdownDomain: DEADLINE_EXCEEDED when the guest ignores it; the call deadline ends the wait early', async () => {
  await fake.addDomain(vmXml('stubborn'), 'running');
  fake.guestShutdown = 'ignore';
  let started = Date.now();
  const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 'stubborn', waitSeconds: 1 }, call), 'DEADLINE_EXCEEDED');
  assert.match(details, /did not power off within 1 s and is running/);
  assert.ok(Date.now() - started >= 900 && Date.now() - started < 5000);
  started = Date.now();
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 'stubborn', waitSeconds: 600 }, { deadlineMs: 400 }), 'DEADLINE_EXCEEDED');
  assert.ok(Date.now() - started < 3000, 'the wait honoured the deadline');
  assert.equal((await fake.getDomain('stubborn')).state, 'running', 'the guest keeps running');
});

test('UndefineDomain needs a storage policy and a shut-off domain', async () => {
  await fake.addDomain(vmXml('u1'), 'running');
  const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.undefineDomain, { name: 'u1' }, call), 'INVALID_ARGUMENT');
  assert.match(details, /STORAGE_POLICY_KEEP or STORAGE_POLICY_REMOVE/);
  assert.match(
    await rejectsWithStatus(unaryCall(clients.domain, clients.domain.undefineDomain, { name: 'u1', storage: 'STORAGE_POLICY_REMOVE' }, call), 'FAILED_PRECONDITION'),
    /it is running, not shut off/,
  );
  assert.ok(!fake.calls.some((c) => c.startsWith('undefineDomain')));
});

test('UndefineDomain KEEP removes the definition only', async () => {
  const image = join(root, 'keep.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', image, '1M');
  const nvram = join(root, 'keep_VARS.fd');
  await writeFile(nvram, 'vars');
  await fake.addDomain(vmXml('keep', { disks: [{ path: image, target: 'vda' }], os: `<nvram>${nvram}</nvram>` }));
  const res = await unaryCall(clients.domain, clients.domain.undefineDomain, { name: 'keep', storage: 'STORAGE_POLICY_KEEP' }, call);
  assert.deepEqual(res.removedPaths, []);
  assert.ok(fake.calls.includes('undefineDomain keep nvram=keep'));
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.describeDomain, { name: 'keep' }, call), 'NOT_FOUND');
  assert.ok((await exists(image)) && (await exists(nvram)));
});

test('UndefineDomain REMOVE deletes its own images, NVRAM and TPM state, keeps everything shared or outside, and refuses while another domain uses a file', async () => {
  const dir = join(root, 'remove');
  await mkdir(dir);
  const mk = (name: string): string => {
    const path = join(dir, name);
    qemuImg('create', '-q', '-f', 'qcow2', path, '1M');
    return path;
  };
  const base = mk('base.qcow2');
  const top = join(dir, 'top.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, top);
  const data = mk('data.qcow2');
  const shared = mk('shared.qcow2');
  const ro = mk('golden.qcow2');
  const usedByOther = mk('other.qcow2');
  const iso = join(dir, 'install.iso');
  await writeFile(iso, 'iso');
  const foreign = join(outside, 'foreign.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', foreign, '1M');
  const linkedImage = mk('linked.qcow2');
  const linkInRoots = join(dir, 'link.qcow2');
  await symlink(linkedImage, linkInRoots);
  const reachedFromOutside = mk('reached.qcow2');
  const linkOutside = join(outside, 'link-in.qcow2');
  await symlink(reachedFromOutside, linkOutside);
  const nvram = join(dir, 'rm_VARS.fd');
  await writeFile(nvram, 'vars');
  const tpmDir = join(swtpm, UUID_A);
  await mkdir(join(tpmDir, 'tpm2'), { recursive: true });
  await writeFile(join(tpmDir, 'tpm2', 'tpm2-00.permall'), 'state');
  await fake.addDomain(
    vmXml('rm', {
      uuid: UUID_A,
      os: `<nvram>${nvram}</nvram>`,
      disks: [
        { path: top, target: 'vda' },
        { path: data, target: 'vdb' },
        { path: shared, target: 'vdc', extra: '<shareable/>' },
        { path: ro, target: 'vdd', extra: '<readonly/>' },
        { path: usedByOther, target: 'vde' },
        { path: foreign, target: 'vdf' },
        { path: iso, target: 'hdc', device: 'cdrom', format: 'raw' },
        { path: linkInRoots, target: 'vdg' },
        { path: linkOutside, target: 'vdh' },
      ],
      devices: "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>",
    }),
  );
  await fake.addDomain(
    vmXml('neighbour', {
      uuid: UUID_B,
      disks: [
        { path: usedByOther, target: 'vda' },
        { path: ro, target: 'vdb', extra: '<readonly/>' },
      ],
    }),
  );
  // Hole 6: a file another domain uses is never deleted; the whole call is refused before anything goes.
  const refusal = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.undefineDomain, { name: 'rm', storage: 'STORAGE_POLICY_REMOVE' }, call), 'FAILED_PRECONDITION');
  assert.match(refusal, /other\.qcow2 is also used by domain 'neighbour'/);
  assert.deepEqual((await fake.listDomains()).map((d) => d.name).sort(), ['neighbour', 'rm'], 'nothing undefined');
  for (const kept of [top, data, nvram, usedByOther, tpmDir]) assert.equal(await exists(kept), true, `${kept} untouched by the refused call`);
  // Once the neighbour lets go of it (it still shares the read-only image, which REMOVE keeps anyway), REMOVE goes ahead.
  await fake.defineDomain(vmXml('neighbour', { uuid: UUID_B, disks: [{ path: ro, target: 'vdb', extra: '<readonly/>' }] }));
  const res = await unaryCall(clients.domain, clients.domain.undefineDomain, { name: 'rm', storage: 'STORAGE_POLICY_REMOVE' }, call);
  const removed = [nvram, top, data, tpmDir, linkedImage, linkInRoots, reachedFromOutside, usedByOther];
  assert.deepEqual([...res.removedPaths].sort(), removed.sort());
  for (const gone of removed) assert.equal(await exists(gone), false, `${gone} removed`);
  for (const kept of [base, shared, ro, iso, foreign]) assert.equal(await exists(kept), true, `${kept} kept`);
  assert.ok((await lstat(linkOutside)).isSymbolicLink(), 'a link outside the roots is never touched');
  assert.ok(fake.calls.includes('undefineDomain rm nvram=remove'));
  assert.deepEqual(
    (await fake.listDomains()).map((d) => d.name),
    ['neighbour'],
  );
});

test('UndefineDomain REMOVE refuses when another domain uses its NVRAM, naming that domain', async () => {
  const dir = join(root, 'nvram-shared');
  await mkdir(dir);
  const disk = join(dir, 'own.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', disk, '1M');
  const nvram = join(dir, 'shared_VARS.fd');
  await writeFile(nvram, 'vars');
  await fake.addDomain(vmXml('rm', { uuid: UUID_A, os: `<nvram>${nvram}</nvram>`, disks: [{ path: disk, target: 'vda' }] }));
  await fake.addDomain(vmXml('twin', { uuid: UUID_B, os: `<nvram>${nvram}</nvram>` }));
  const refusal = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.undefineDomain, { name: 'rm', storage: 'STORAGE_POLICY_REMOVE' }, call), 'FAILED_PRECONDITION');
  assert.match(refusal, /NVRAM .*shared_VARS\.fd is also used by domain 'twin'/);
  assert.equal(await exists(nvram), true);
  assert.equal(await exists(disk), true);
  assert.deepEqual((await fake.listDomains()).map((d) => d.name).sort(), ['rm', 'twin']);
});

test('GetFreeSpace measures the nearest existing directory under the roots with statfs', async () => {
  const res = await unaryCall(clients.storage, clients.storage.getFreeSpace, { path: join(root, 'not', 'yet', 'there.qcow2') }, call);
  assert.equal(res.path, root);
  const fs = await statfs(root);
  assert.equal(res.blockSize, fs.bsize);
  assert.equal(res.totalBytes, fs.blocks * fs.bsize);
  assert.ok(res.availableBytes <= res.freeBytes && res.freeBytes <= res.totalBytes);
  assert.ok(Math.abs(res.availableBytes - fs.bavail * fs.bsize) < 64 * 1024 * 1024, 'available is f_bavail');
  await rejectsWithStatus(unaryCall(clients.storage, clients.storage.getFreeSpace, { path: outside }, call), 'PERMISSION_DENIED');
  await rejectsWithStatus(unaryCall(clients.storage, clients.storage.getFreeSpace, { path: 'relative/path' }, call), 'INVALID_ARGUMENT');
});

test('ListPools passes the pools through', async () => {
  const res = await unaryCall(clients.storage, clients.storage.listPools, {}, call);
  assert.deepEqual(res.pools, [
    { name: 'default', uuid: UUID_B, type: 'dir', path: '/var/lib/libvirt/images', active: true, autostart: true, capacityBytes: 100, allocationBytes: 40, availableBytes: 60 },
  ]);
});
