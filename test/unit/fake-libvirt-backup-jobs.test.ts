/**
 * The fake's live-copy half (LibvirtLivePort), which callers' unit tests rely
 * on to behave as libvirt 9.0 does: pull-mode backup jobs, full and
 * incremental, what they refuse, and how they end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBackupXml, parseCheckpointXml } from '../../agent/libvirt/backup-xml.js';
import { isBackupScratchExists, isCheckpointExists, isCheckpointUnsupported, isDomainExists, isDomainNotRunning, isNoCheckpoint } from '../../agent/libvirt/libvirt-errors.js';
import { SOCKET, backupXml, checkpointXml, running } from '../support/fake-live-domain.js';
import { failure } from '../support/kvmclone-failure.js';

test('a full pull-mode job with a checkpoint: job, exports, one job at a time, abort', async () => {
  const fake = await running();
  assert.equal(await fake.backupSupported(), true);
  assert.equal(await fake.domainJob('web'), undefined);
  assert.equal(await fake.backupJob('web'), undefined);
  const job = await fake.backupBegin('web', backupXml(), checkpointXml('kvmclone.r1.1'));
  assert.equal(job.socket, SOCKET);
  assert.equal(job.incremental, '');
  assert.deepEqual(
    job.disks.map((d) => [d.target, d.backup, d.mode, d.exportName, d.exportBitmap]),
    [
      ['vda', true, 'full', 'vda', ''],
      ['vdb', true, 'full', 'vdb', ''],
      ['vdc', false, '', '', ''],
    ],
  );
  assert.deepEqual(await fake.backupJob('web'), job);
  const info = await fake.domainJob('web');
  assert.deepEqual([info?.type, info?.operation], ['unbounded', 'backup']);
  fake.writeGuest('web', 'vdb', 65536);
  assert.equal((await fake.domainJob('web'))?.tempUsedBytes, 65536, 'overwritten blocks go to the scratch file');

  const second = await failure(fake.backupBegin('web', backupXml(), undefined));
  assert.equal(second.code, 'ABORTED');
  assert.match(second.message, /a backup job runs on it already/);

  assert.deepEqual(await fake.listCheckpoints('web'), [{ name: 'kvmclone.r1.1', parent: '', creationTime: (await fake.getCheckpoint('web', 'kvmclone.r1.1')).creationTime }]);
  assert.equal(await fake.abortJob('web'), true);
  assert.equal(await fake.backupJob('web'), undefined);
  assert.equal(await fake.abortJob('web'), false, 'no job: quietly false');
  assert.deepEqual(
    (await fake.listCheckpoints('web')).map((c) => c.name),
    ['kvmclone.r1.1'],
    'the checkpoint outlives the job',
  );
});

test('incremental from a checkpoint: dirty sizes, export bitmaps, parents', async () => {
  const fake = await running();
  await fake.backupBegin('web', backupXml(), checkpointXml('kvmclone.r1.1'));
  await fake.abortJob('web');
  fake.writeGuest('web', 'vdb', 65536);
  const sized = await fake.getCheckpoint('web', 'kvmclone.r1.1', { size: true });
  assert.deepEqual(
    sized.disks.map((d) => [d.target, d.tracked, d.bitmap, d.sizeBytes]),
    [
      ['vda', true, 'kvmclone.r1.1', 0],
      ['vdb', true, 'kvmclone.r1.1', 65536],
      ['vdc', false, '', undefined],
    ],
  );
  assert.equal((await fake.getCheckpoint('web', 'kvmclone.r1.1')).disks[1]?.sizeBytes, undefined, 'no size unless asked');

  const job = await fake.backupBegin('web', backupXml('kvmclone.r1.1'), checkpointXml('kvmclone.r1.2'));
  assert.equal(job.incremental, 'kvmclone.r1.1');
  assert.deepEqual(
    job.disks.find((d) => d.target === 'vdb'),
    {
      target: 'vdb',
      backup: true,
      mode: 'incremental',
      incremental: 'kvmclone.r1.1',
      exportName: 'vdb',
      exportBitmap: 'backup-vdb',
      scratch: '/nonexistent/vdb.qcow2',
    },
  );
  await fake.abortJob('web');
  fake.writeGuest('web', 'vdb', 131072);
  assert.equal((await fake.getCheckpoint('web', 'kvmclone.r1.1', { size: true })).disks[1]?.sizeBytes, 196608, 'dirty since r1.1');
  assert.equal((await fake.getCheckpoint('web', 'kvmclone.r1.2', { size: true })).disks[1]?.sizeBytes, 131072, 'dirty since r1.2');
  assert.deepEqual(
    (await fake.listCheckpoints('web')).map((c) => [c.name, c.parent]),
    [
      ['kvmclone.r1.1', ''],
      ['kvmclone.r1.2', 'kvmclone.r1.1'],
    ],
  );
  const xml = await fake.checkpointXml('web', 'kvmclone.r1.2', { size: true });
  assert.deepEqual(parseCheckpointXml(xml), await fake.getCheckpoint('web', 'kvmclone.r1.2', { size: true }));

  const unknown = await failure(fake.backupBegin('web', backupXml('kvmclone.nope'), undefined));
  assert.equal(unknown.code, 'NOT_FOUND');
  assert.ok(isNoCheckpoint(unknown));
  assert.match(unknown.message, /Checkpoint 'kvmclone.nope' for incremental backup of disk 'vda' not found/);
});

test('refusals: raw disk bitmap, duplicate checkpoint, existing scratch, unknown disk, stopped domain', async () => {
  const fake = await running();
  const raw = await failure(fake.backupBegin('web', backupXml(), checkpointXml('kvmclone.r1.1', true)));
  assert.equal(raw.code, 'FAILED_PRECONDITION');
  assert.ok(isCheckpointUnsupported(raw));
  assert.match(raw.message, /checkpoint for disk vdc unsupported for storage type raw/);
  assert.equal(await fake.backupJob('web'), undefined, 'nothing began');
  assert.deepEqual(await fake.listCheckpoints('web'), [], 'no checkpoint made by a job that failed');

  await fake.backupBegin('web', backupXml(), checkpointXml('kvmclone.r1.1'));
  await fake.abortJob('web');
  const twice = await failure(fake.backupBegin('web', backupXml(), checkpointXml('kvmclone.r1.1')));
  assert.equal(twice.code, 'ALREADY_EXISTS');
  assert.ok(isCheckpointExists(twice));
  assert.ok(!isDomainExists(twice), 'a checkpoint is not a domain');

  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-fake-'));
  try {
    await writeFile(join(dir, 'vdb.qcow2'), '');
    const exists = await failure(fake.backupBegin('web', backupXml('', dir), undefined));
    assert.equal(exists.code, 'ALREADY_EXISTS');
    assert.ok(isBackupScratchExists(exists));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const unknownDisk = await failure(fake.backupBegin('web', buildBackupXml({ socket: SOCKET, incremental: '', disks: [{ target: 'vdz', scratch: '/s' }] }), undefined));
  assert.equal(unknownDisk.code, 'INVALID_ARGUMENT');
  assert.match(unknownDisk.message, /no disk named 'vdz'/);

  await fake.destroyDomain('web');
  const stopped = await failure(fake.backupBegin('web', backupXml(), undefined));
  assert.equal(stopped.code, 'FAILED_PRECONDITION');
  assert.ok(isDomainNotRunning(stopped));
  assert.equal((await failure(fake.getCheckpoint('web', 'kvmclone.r1.1', { size: true }))).code, 'FAILED_PRECONDITION', 'sizes need a running domain');
  assert.equal(await fake.abortJob('web'), false);
  assert.equal((await failure(fake.backupJob('nope'))).code, 'NOT_FOUND');
});

test('a job ends when the domain stops', async () => {
  const fake = await running();
  await fake.backupBegin('web', backupXml(), undefined);
  await fake.destroyDomain('web');
  assert.equal(await fake.backupJob('web'), undefined);
  await fake.startDomain('web');
  assert.equal(await fake.domainJob('web'), undefined);
});
