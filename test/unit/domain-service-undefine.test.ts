/**
 * DomainService's UndefineDomain over the fake libvirt (test/support/domain-service-server.ts):
 * the storage policy, KEEP, and what REMOVE deletes, keeps and refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { unaryCall } from '../../shared/agent-clients.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { useDomainServiceServer, UUID_A, UUID_B, call, clients, exists, fake, outside, qemuImg, root, swtpm, vmXml } from '../support/domain-service-server.js';

useDomainServiceServer();

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

/**
 * The files of domain 'rm' for the REMOVE test, under root/remove: its images (one on a backing
 * file, one shared, one read-only, one another domain uses, one linked in the roots, one reached
 * through a link outside them), an ISO, an image outside the roots, its NVRAM and its TPM state.
 */
async function removalFiles() {
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
  return { base, top, data, shared, ro, usedByOther, iso, foreign, linkedImage, linkInRoots, reachedFromOutside, linkOutside, nvram, tpmDir };
}

test('UndefineDomain REMOVE deletes its own images, NVRAM and TPM state, keeps everything shared or outside, and refuses while another domain uses a file', async () => {
  const { base, top, data, shared, ro, usedByOther, iso, foreign, linkedImage, linkInRoots, reachedFromOutside, linkOutside, nvram, tpmDir } = await removalFiles();
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
