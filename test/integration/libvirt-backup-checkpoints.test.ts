/**
 * The adapter's live-copy calls (LibvirtLivePort) against a real libvirtd —
 * a throwaway one (libvirt-sandbox.sh) — and a running guest
 * (support/libvirt-backup-sandbox.ts): pull-mode backup jobs (full and
 * incremental) with their NBD exports and checkpoints, checkpoints deleted,
 * redefined and refused, and a guest whose QEMU was killed. The tests run in
 * order and share the domain and its checkpoint chain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  isBackupScratchExists,
  isCheckpointExists,
  isCheckpointInconsistent,
  isCheckpointUnsupported,
  isDomainNotRunning,
  isNoCheckpoint,
} from '../../agent/libvirt/libvirt-errors.js';
import { failure } from '../support/kvmclone-failure.js';
import { checkpointXml, exists, MiB, nbdHasPattern, nbdMap, skip, useBackupSandbox, VM } from './support/libvirt-backup-sandbox.js';

const sandbox = useBackupSandbox({ agentVm: false });

test('backupSupported: QEMU here has the backup API', { skip }, async () => {
  assert.equal(await sandbox.adapter.backupSupported(), true);
  assert.equal(await sandbox.adapter.domainJob(VM), undefined, 'no job yet');
  assert.equal(await sandbox.adapter.backupJob(VM), undefined);
});

test('full pull-mode backup with checkpoint kvmclone.t1.1: NBD export, one job at a time, abort removes scratch and socket', { skip }, async () => {
  const socket = join(sandbox.sockets, 'full.sock');
  const job = await sandbox.adapter.backupBegin(VM, sandbox.backupXml(socket, '', 'full'), checkpointXml('kvmclone.t1.1'));
  assert.deepEqual([job.mode, job.incremental, job.socket], ['pull', '', socket]);
  assert.deepEqual(
    job.disks.map((d) => [d.target, d.backup, d.mode, d.exportName, d.exportBitmap, d.scratch]),
    [
      ['vda', true, 'full', 'vda', '', join(sandbox.scratch, 'full.vda.qcow2')],
      ['vdb', true, 'full', 'vdb', '', join(sandbox.scratch, 'full.vdb.qcow2')],
      ['vdc', false, '', '', '', ''],
    ],
  );
  assert.deepEqual(await sandbox.adapter.backupJob(VM), job);
  assert.ok((await stat(socket)).isSocket(), 'QEMU listens on our socket');
  const scratchMode = (await stat(join(sandbox.scratch, 'full.vdb.qcow2'))).mode & 0o777;
  assert.equal(scratchMode, 0o600, 'libvirt made the scratch file, private');
  const info = await sandbox.adapter.domainJob(VM);
  assert.deepEqual([info?.type, info?.operation, info?.tempUsedBytes, info?.tempTotalBytes], ['unbounded', 'backup', 0, 65 * MiB]);
  assert.deepEqual(await nbdMap(socket, 'vdb'), [[0, 64 * MiB, false]], 'qemu-img maps the empty 64 MiB export over NBD');
  assert.ok(await nbdHasPattern(socket, 'vda', 0x00, '1024', '512'), 'vda reads through the export');
  assert.deepEqual(
    (await sandbox.adapter.listCheckpoints(VM)).map((c) => [c.name, c.parent]),
    [['kvmclone.t1.1', '']],
    'made when the job began',
  );

  const started = Date.now();
  const second = await failure(sandbox.adapter.backupBegin(VM, sandbox.backupXml(join(sandbox.sockets, 'second.sock'), '', 'second'), undefined));
  assert.equal(second.code, 'ABORTED');
  assert.match(second.message, /a backup job runs on it already/);
  assert.ok(Date.now() - started < 10_000, "refused at once, not after libvirt's 30 s lock wait");

  assert.equal(await sandbox.adapter.abortJob(VM), true);
  assert.equal(await sandbox.adapter.backupJob(VM), undefined);
  assert.equal(await sandbox.adapter.domainJob(VM), undefined);
  assert.equal(await exists(join(sandbox.scratch, 'full.vdb.qcow2')), false, 'libvirt removed the scratch files');
  assert.equal(await exists(join(sandbox.scratch, 'full.vda.qcow2')), false);
  assert.equal(await exists(socket), false, 'and the socket');
  assert.equal(await sandbox.adapter.abortJob(VM), false, 'no job: quietly false');
  const completed = await sandbox.virsh('domjobinfo', VM, '--completed');
  assert.match(completed, /Operation:\s+Backup/);
  assert.match(completed, /Error message:\s+Operation canceled/, 'libvirt 9.0 records the pull job as canceled');
  assert.deepEqual(
    (await sandbox.adapter.listCheckpoints(VM)).map((c) => c.name),
    ['kvmclone.t1.1'],
    'the checkpoint outlives the job',
  );
});

test('guest writes show in the checkpoint size; incremental backup exports exactly the dirty blocks, as of its start', { skip }, async () => {
  await sandbox.guestWrite('virtio-disk1', 0x41, '1M', '64k');
  const t1 = await sandbox.adapter.getCheckpoint(VM, 'kvmclone.t1.1', { size: true });
  assert.deepEqual(
    t1.disks.map((d) => [d.target, d.tracked, d.bitmap, d.sizeBytes]),
    [
      ['vda', true, 'kvmclone.t1.1', 0],
      ['vdb', true, 'kvmclone.t1.1', 65536],
      ['vdc', false, '', undefined],
    ],
  );
  assert.equal(t1.description, 'kvmclone integration test');
  assert.ok(Math.abs(t1.creationTime - Date.now() / 1000) < 600);

  const socket = join(sandbox.sockets, 'inc.sock');
  const job = await sandbox.adapter.backupBegin(VM, sandbox.backupXml(socket, 'kvmclone.t1.1', 'inc'), checkpointXml('kvmclone.t1.2'));
  try {
    assert.equal(job.incremental, 'kvmclone.t1.1');
    const vdb = job.disks.find((d) => d.target === 'vdb');
    assert.deepEqual([vdb?.mode, vdb?.incremental, vdb?.exportBitmap], ['incremental', 'kvmclone.t1.1', 'backup-vdb']);
    assert.deepEqual(
      await nbdMap(socket, 'vdb', 'backup-vdb'),
      [
        [0, 1 * MiB, false],
        [1 * MiB, 64 * 1024, true],
        [1 * MiB + 64 * 1024, 63 * MiB - 64 * 1024, false],
      ],
      'the dirty bitmap holds exactly the guest write',
    );
    assert.ok(await nbdHasPattern(socket, 'vdb', 0x41, '1M', '64k'));
    // the guest overwrites it while the job runs: the export keeps the point in time, the old data goes to scratch
    await sandbox.guestWrite('virtio-disk1', 0x42, '1M', '64k');
    assert.ok(await nbdHasPattern(socket, 'vdb', 0x41, '1M', '64k'), "the export still reads the data of the job's start");
    assert.equal((await sandbox.adapter.domainJob(VM))?.tempUsedBytes, 65536, 'one cluster copied to scratch');
  } finally {
    assert.equal(await sandbox.adapter.abortJob(VM), true);
  }
  assert.deepEqual((await sandbox.adapter.getCheckpoint(VM, 'kvmclone.t1.2', { size: true })).disks[1]?.sizeBytes, 65536, 'dirty since t1.2');
  assert.deepEqual((await sandbox.adapter.getCheckpoint(VM, 'kvmclone.t1.1', { size: true })).disks[1]?.sizeBytes, 65536, 'the same cluster since t1.1');
  const list = await sandbox.adapter.listCheckpoints(VM);
  assert.deepEqual(
    list.map((c) => [c.name, c.parent]),
    [
      ['kvmclone.t1.1', ''],
      ['kvmclone.t1.2', 'kvmclone.t1.1'],
    ],
  );
  assert.ok(
    list.every((c) => Math.abs(c.creationTime - Date.now() / 1000) < 600),
    "creation times read in virsh's time zone",
  );
});

test('delete metadata-only, redefine from saved XML, delete with data', { skip }, async () => {
  const saved = await sandbox.adapter.checkpointXml(VM, 'kvmclone.t1.2');
  assert.match(saved, /<domain type=/, 'the saved XML carries the domain definition');
  assert.doesNotMatch(saved, /size=/);
  await sandbox.adapter.deleteCheckpoint(VM, 'kvmclone.t1.2', { metadataOnly: true });
  assert.deepEqual(
    (await sandbox.adapter.listCheckpoints(VM)).map((c) => c.name),
    ['kvmclone.t1.1'],
  );
  const gone = await failure(sandbox.adapter.getCheckpoint(VM, 'kvmclone.t1.2'));
  assert.equal(gone.code, 'NOT_FOUND');
  assert.ok(isNoCheckpoint(gone));

  await sandbox.adapter.redefineCheckpoint(VM, saved);
  assert.deepEqual(
    (await sandbox.adapter.listCheckpoints(VM)).map((c) => [c.name, c.parent]),
    [
      ['kvmclone.t1.1', ''],
      ['kvmclone.t1.2', 'kvmclone.t1.1'],
    ],
  );
  assert.equal((await sandbox.adapter.getCheckpoint(VM, 'kvmclone.t1.2', { size: true })).disks[1]?.sizeBytes, 65536, 'its bitmap stayed in the image');

  // a checkpoint whose bitmap never existed does not validate
  const invented = await failure(sandbox.adapter.redefineCheckpoint(VM, saved.replaceAll('kvmclone.t1.2', 'kvmclone.t1.9')));
  assert.equal(invented.code, 'FAILED_PRECONDITION');
  assert.ok(isCheckpointInconsistent(invented), invented.message);
  assert.match(invented.message, /checkpoint inconsistent: missing or broken bitmap 'kvmclone.t1.9' for disk 'v/);

  const duplicate = await failure(sandbox.adapter.backupBegin(VM, sandbox.backupXml(join(sandbox.sockets, 'dup.sock'), '', 'dup'), checkpointXml('kvmclone.t1.2')));
  assert.equal(duplicate.code, 'ALREADY_EXISTS');
  assert.ok(isCheckpointExists(duplicate), duplicate.message);
  assert.equal(await sandbox.adapter.backupJob(VM), undefined);

  await sandbox.adapter.deleteCheckpoint(VM, 'kvmclone.t1.1');
  assert.deepEqual(
    (await sandbox.adapter.listCheckpoints(VM)).map((c) => [c.name, c.parent]),
    [['kvmclone.t1.2', '']],
    't1.2 became a root',
  );
  const orphan = await failure(sandbox.adapter.redefineCheckpoint(VM, saved));
  assert.match(orphan.message, /parent kvmclone.t1.1 for moment kvmclone.t1.2 not found/);
  assert.equal((await failure(sandbox.adapter.deleteCheckpoint(VM, 'kvmclone.t1.1'))).code, 'NOT_FOUND');
  const unknownBase = await failure(sandbox.adapter.backupBegin(VM, sandbox.backupXml(join(sandbox.sockets, 'x.sock'), 'kvmclone.t1.1', 'x'), undefined));
  assert.equal(unknownBase.code, 'NOT_FOUND');
  assert.ok(isNoCheckpoint(unknownBase));
  assert.match(unknownBase.message, /Checkpoint 'kvmclone.t1.1' for incremental backup of disk 'vd[ab]' not found/);
});

test('refusals: a raw disk with a bitmap, an existing scratch file; a job that fails makes no checkpoint', { skip }, async () => {
  const raw = await failure(sandbox.adapter.backupBegin(VM, sandbox.backupXml(join(sandbox.sockets, 'raw.sock'), '', 'raw'), checkpointXml('kvmclone.t1.3', true)));
  assert.equal(raw.code, 'FAILED_PRECONDITION');
  assert.ok(isCheckpointUnsupported(raw), raw.message);
  assert.match(raw.message, /checkpoint for disk vdc unsupported for storage type raw/);

  await writeFile(join(sandbox.scratch, 'stale.vdb.qcow2'), '');
  const stale = await failure(sandbox.adapter.backupBegin(VM, sandbox.backupXml(join(sandbox.sockets, 'stale.sock'), '', 'stale'), checkpointXml('kvmclone.t1.3')));
  assert.equal(stale.code, 'ALREADY_EXISTS');
  assert.ok(isBackupScratchExists(stale), stale.message);
  await rm(join(sandbox.scratch, 'stale.vdb.qcow2'));

  // QEMU cannot bind the socket: libvirt 9.0 reports an internal error (INTERNAL: not a KvmcloneError)
  await assert.rejects(
    sandbox.adapter.backupBegin(VM, sandbox.backupXml(join(sandbox.sockets, 'no-such-dir', 'b.sock'), '', 'nodir'), checkpointXml('kvmclone.t1.3')),
    /nbd-server-start.*Failed to bind socket/,
  );
  assert.deepEqual(
    (await sandbox.adapter.listCheckpoints(VM)).map((c) => c.name),
    ['kvmclone.t1.2'],
    'no checkpoint was made by the failed jobs',
  );
  assert.equal(await sandbox.adapter.backupJob(VM), undefined);
  assert.deepEqual((await readdir(sandbox.scratch)).sort(), [], 'no scratch file left');
});

test('QEMU killed: the checkpoint stays listed but is inconsistent; it goes with a metadata-only delete', { skip }, async () => {
  const saved = await sandbox.adapter.checkpointXml(VM, 'kvmclone.t1.2');
  const pid = Number((await readFile(join(sandbox.dir, 'run', 'libvirt', 'qemu', `${VM}.pid`), 'utf8')).trim());
  assert.ok(pid > 1);
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && (await sandbox.adapter.getDomain(VM)).state !== 'shutoff'; i++) await sleep(100);
  assert.equal((await sandbox.adapter.getDomain(VM)).state, 'shutoff');

  // a stopped domain: no job, and what needs QEMU says so
  assert.equal(await sandbox.adapter.domainJob(VM), undefined);
  assert.equal(await sandbox.adapter.backupJob(VM), undefined);
  assert.equal(await sandbox.adapter.abortJob(VM), false);
  const stopped = await failure(sandbox.adapter.backupBegin(VM, sandbox.backupXml(join(sandbox.sockets, 's.sock'), '', 's'), undefined));
  assert.ok(isDomainNotRunning(stopped), stopped.message);
  assert.ok(isDomainNotRunning(await failure(sandbox.adapter.getCheckpoint(VM, 'kvmclone.t1.2', { size: true }))));
  assert.match(stopped.message, /cannot perform disk backup for inactive domain/);
  const inactive = await failure(sandbox.adapter.deleteCheckpoint(VM, 'kvmclone.t1.2'));
  assert.ok(isDomainNotRunning(inactive));
  assert.match(inactive.message, /cannot delete checkpoint for inactive domain/);
  assert.ok(isDomainNotRunning(await failure(sandbox.adapter.redefineCheckpoint(VM, saved))), 'validation needs QEMU');
  await sandbox.adapter.redefineCheckpoint(VM, saved, { validate: false });

  await sandbox.adapter.startDomain(VM);
  assert.deepEqual(
    (await sandbox.adapter.listCheckpoints(VM)).map((c) => c.name),
    ['kvmclone.t1.2'],
  );
  assert.equal((await sandbox.adapter.getCheckpoint(VM, 'kvmclone.t1.2', { size: true })).disks[1]?.sizeBytes, undefined, 'no size: the bitmap is gone');
  const incremental = await failure(sandbox.adapter.backupBegin(VM, sandbox.backupXml(join(sandbox.sockets, 'k.sock'), 'kvmclone.t1.2', 'k'), checkpointXml('kvmclone.t1.3')));
  assert.equal(incremental.code, 'FAILED_PRECONDITION');
  assert.ok(isCheckpointInconsistent(incremental), incremental.message);
  const deleted = await failure(sandbox.adapter.deleteCheckpoint(VM, 'kvmclone.t1.2'));
  assert.equal(deleted.code, 'FAILED_PRECONDITION');
  assert.ok(isCheckpointInconsistent(deleted), deleted.message);
  await sandbox.adapter.deleteCheckpoint(VM, 'kvmclone.t1.2', { metadataOnly: true });
  assert.deepEqual(await sandbox.adapter.listCheckpoints(VM), []);

  // a new chain starts with a full job
  const socket = join(sandbox.sockets, 'again.sock');
  await sandbox.adapter.backupBegin(VM, sandbox.backupXml(socket, '', 'again'), checkpointXml('kvmclone.t1.3'));
  const map = await nbdMap(socket, 'vdb');
  assert.equal(
    map.reduce((n, [, length]) => n + length, 0),
    64 * MiB,
    'the export serves the whole disk again',
  );
  assert.equal(await sandbox.adapter.abortJob(VM), true);
  assert.deepEqual(
    (await sandbox.adapter.listCheckpoints(VM)).map((c) => [c.name, c.parent]),
    [['kvmclone.t1.3', '']],
  );
});
