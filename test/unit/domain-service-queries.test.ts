/**
 * DomainService and StorageService over the fake libvirt (test/support/domain-service-server.ts):
 * the calls that only read — ListDomains, DescribeDomain, DescribeSecret,
 * GetFreeSpace, ListPools — and the name check every call that takes a name makes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unaryCall } from '../../shared/agent-clients.js';
import { mkdir, symlink, writeFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { useDomainServiceServer, UUID_A, UUID_B, call, clients, fake, outside, qemuImg, root, swtpm, vmXml } from '../support/domain-service-server.js';

useDomainServiceServer();

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
