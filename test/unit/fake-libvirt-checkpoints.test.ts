/**
 * The fake's live-copy half (LibvirtLivePort), which callers' unit tests rely
 * on to behave as libvirt 9.0 does: checkpoints deleted, deleted metadata-only
 * and redefined from saved XML, and left inconsistent when QEMU is killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCheckpointInconsistent, isDomainNotRunning, isNoCheckpoint } from '../../agent/libvirt/libvirt-errors.js';
import { backupXml, checkpointXml, running } from '../support/fake-live-domain.js';
import { failure } from '../support/kvmclone-failure.js';

test('delete, delete metadata-only and redefine from saved XML', async () => {
  const fake = await running();
  await fake.backupBegin('web', backupXml(), checkpointXml('kvmclone.r1.1'));
  await fake.abortJob('web');
  await fake.backupBegin('web', backupXml('kvmclone.r1.1'), checkpointXml('kvmclone.r1.2'));
  await fake.abortJob('web');
  fake.writeGuest('web', 'vda', 4096);
  const saved = await fake.checkpointXml('web', 'kvmclone.r1.2');

  await fake.deleteCheckpoint('web', 'kvmclone.r1.2', { metadataOnly: true });
  assert.deepEqual(
    (await fake.listCheckpoints('web')).map((c) => c.name),
    ['kvmclone.r1.1'],
  );
  assert.ok(isNoCheckpoint(await failure(fake.getCheckpoint('web', 'kvmclone.r1.2'))));
  await fake.redefineCheckpoint('web', saved);
  assert.deepEqual(
    (await fake.listCheckpoints('web')).map((c) => [c.name, c.parent]),
    [
      ['kvmclone.r1.1', ''],
      ['kvmclone.r1.2', 'kvmclone.r1.1'],
    ],
  );
  assert.equal((await fake.getCheckpoint('web', 'kvmclone.r1.2', { size: true })).disks[0]?.sizeBytes, 4096, 'the bitmap stayed in the image');

  // deleting the root: its child becomes a root
  await fake.deleteCheckpoint('web', 'kvmclone.r1.1');
  assert.deepEqual(
    (await fake.listCheckpoints('web')).map((c) => [c.name, c.parent]),
    [['kvmclone.r1.2', '']],
  );
  const orphan = await failure(fake.redefineCheckpoint('web', saved.replaceAll('kvmclone.r1.2', 'kvmclone.r1.3')));
  assert.equal(orphan.code, 'INVALID_ARGUMENT');
  assert.match(orphan.message, /parent kvmclone.r1.1 for moment kvmclone.r1.3 not found/);
  const noBitmap = await failure(fake.redefineCheckpoint('web', saved.replaceAll('kvmclone.r1.2', 'kvmclone.r1.3').replace(/<parent>[\s\S]*<\/parent>/, '')));
  assert.ok(isCheckpointInconsistent(noBitmap), noBitmap.message);
  assert.equal((await failure(fake.deleteCheckpoint('web', 'kvmclone.r1.9'))).code, 'NOT_FOUND');
  assert.equal((await failure(fake.deleteCheckpoint('web', '--children'))).code, 'INVALID_ARGUMENT');

  await fake.destroyDomain('web');
  assert.match((await failure(fake.deleteCheckpoint('web', 'kvmclone.r1.2'))).message, /cannot delete checkpoint for inactive domain/);
  assert.ok(isDomainNotRunning(await failure(fake.redefineCheckpoint('web', saved.replace(/<parent>[\s\S]*<\/parent>/, '')))), 'validation needs a running domain');
  await fake.deleteCheckpoint('web', 'kvmclone.r1.2', { metadataOnly: true });
  await fake.redefineCheckpoint('web', saved.replace(/<parent>[\s\S]*<\/parent>/, ''), { validate: false });
  assert.deepEqual(
    (await fake.listCheckpoints('web')).map((c) => c.name),
    ['kvmclone.r1.2'],
  );
});

test('QEMU killed: checkpoints stay listed but are inconsistent until deleted metadata-only', async () => {
  const fake = await running();
  await fake.backupBegin('web', backupXml(), checkpointXml('kvmclone.r1.1'));
  fake.killQemu('web');
  assert.equal((await fake.getDomain('web')).state, 'shutoff');
  await fake.startDomain('web');
  assert.deepEqual(
    (await fake.listCheckpoints('web')).map((c) => c.name),
    ['kvmclone.r1.1'],
  );
  assert.equal((await fake.getCheckpoint('web', 'kvmclone.r1.1', { size: true })).disks[0]?.sizeBytes, undefined, 'no size for a lost bitmap');
  const incremental = await failure(fake.backupBegin('web', backupXml('kvmclone.r1.1'), checkpointXml('kvmclone.r1.2')));
  assert.equal(incremental.code, 'FAILED_PRECONDITION');
  assert.ok(isCheckpointInconsistent(incremental));
  assert.match(incremental.message, /missing or broken bitmap 'kvmclone.r1.1' for disk 'vda'/);
  const deleted = await failure(fake.deleteCheckpoint('web', 'kvmclone.r1.1'));
  assert.equal(deleted.code, 'FAILED_PRECONDITION');
  assert.ok(isCheckpointInconsistent(deleted), deleted.message);
  await fake.deleteCheckpoint('web', 'kvmclone.r1.1', { metadataOnly: true });
  await fake.backupBegin('web', backupXml(), checkpointXml('kvmclone.r1.2'));
  assert.deepEqual(
    (await fake.listCheckpoints('web')).map((c) => [c.name, c.parent]),
    [['kvmclone.r1.2', '']],
  );
});
