/**
 * The fake's live-copy half (LibvirtLivePort), which callers' unit tests rely
 * on to behave as libvirt 9.0 does, and the error predicates on libvirt
 * 9.0's own messages (as virsh printed them in the sandbox, see
 * test/integration/libvirt-backup.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBackupXml, buildCheckpointXml, parseCheckpointXml } from '../../agent/libvirt/backup-xml.js';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import {
  isBackupScratchExists,
  isCheckpointExists,
  isCheckpointInconsistent,
  isCheckpointUnsupported,
  isDomainExists,
  isDomainNotRunning,
  isGuestAgentUnavailable,
  isNoActiveJob,
  isNoBackupJob,
  isNoCheckpoint,
  libvirtFailure,
} from '../../agent/libvirt/libvirt-errors.js';
import { CommandError } from '../../agent/process/run-command.js';
import { KvmcloneError } from '../../shared/errors.js';

const VM = `<domain type='kvm'>
  <name>web</name>
  <uuid>0b7e6c2e-9a3c-4d8e-8f1a-2b3c4d5e6f70</uuid>
  <memory unit='MiB'>64</memory>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/vda.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/vdb.qcow2'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/img/vdc.raw'/><target dev='vdc' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='sda' bus='sata'/><readonly/></disk>
  </devices>
</domain>`;

const SOCKET = '/run/kvmclone/live/backup-op.sock';

function backupXml(incremental = '', scratchDir = '/nonexistent'): string {
  return buildBackupXml({
    socket: SOCKET,
    incremental,
    disks: [
      { target: 'vda', scratch: `${scratchDir}/vda.qcow2` },
      { target: 'vdb', scratch: `${scratchDir}/vdb.qcow2` },
    ],
  });
}

function checkpointXml(name: string, raw = false): string {
  return buildCheckpointXml({
    name,
    description: 'kvmclone replica checkpoint',
    disks: [
      { target: 'vda', bitmap: true },
      { target: 'vdb', bitmap: true },
      { target: 'vdc', bitmap: raw },
    ],
  });
}

async function running(): Promise<FakeLibvirt> {
  const fake = new FakeLibvirt();
  await fake.addDomain(VM, 'running');
  return fake;
}

async function failure(promise: Promise<unknown>): Promise<KvmcloneError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof KvmcloneError, `not a KvmcloneError: ${String(err)}`);
    return err;
  }
  assert.fail('it succeeded');
}

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

test('guest agent: freeze and thaw, missing, not connected, hanging', async () => {
  const fake = await running();
  assert.equal(await fake.fsFreeze('web', 1000), 2);
  assert.equal(fake.isFrozen('web'), true);
  assert.equal(await fake.fsThaw('web', 1000), 2);
  assert.equal(fake.isFrozen('web'), false);

  fake.guestAgent = 'not-connected';
  const notConnected = await failure(fake.fsFreeze('web', 1000));
  assert.equal(notConnected.code, 'FAILED_PRECONDITION');
  assert.ok(isGuestAgentUnavailable(notConnected));
  assert.match(notConnected.message, /QEMU guest agent is not connected/);
  fake.guestAgent = 'not-configured';
  const notConfigured = await failure(fake.fsThaw('web', 1000));
  assert.equal(notConfigured.code, 'FAILED_PRECONDITION');
  assert.ok(isGuestAgentUnavailable(notConfigured));

  fake.guestAgent = 'hang';
  const started = Date.now();
  const hung = await failure(fake.fsFreeze('web', 50));
  assert.equal(hung.code, 'DEADLINE_EXCEEDED');
  assert.ok(Date.now() - started < 1000);
  assert.ok(!isGuestAgentUnavailable(hung));
  const controller = new AbortController();
  const pending = fake.fsFreeze('web', 60_000, { signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, { name: 'AbortError' });

  fake.guestAgent = 'ok';
  await fake.destroyDomain('web');
  assert.ok(isDomainNotRunning(await failure(fake.fsFreeze('web', 1000))));
  assert.ok(fake.calls.includes('fsFreeze web'));
});

/** What runCommand rejects with when virsh fails. */
const virsh = (stderr: string): CommandError => new CommandError('virsh', ['-c', 'qemu:///system', 'x'], 1, stderr, `virsh x failed: ${stderr}`);
const mapped = (err: unknown): unknown => libvirtFailure(err, 'doing it');

// stderr as libvirt 9.0's virsh printed it in the sandbox
const MESSAGES: ReadonlyArray<readonly [string, string, string, (err: unknown) => boolean]> = [
  ['no backup job', 'error: Domain backup job id not found: no domain backup job present', 'NOT_FOUND', isNoBackupJob],
  ['abort without a job', 'error: Requested operation is not valid: no job is active on the domain', 'FAILED_PRECONDITION', isNoActiveJob],
  ['unknown checkpoint', "error: Domain checkpoint not found: no domain checkpoint with matching name 'nope'", 'NOT_FOUND', isNoCheckpoint],
  ['incremental base unknown', "error: Domain checkpoint not found: Checkpoint 'kvmclone.nope' for incremental backup of disk 'vdb' not found", 'NOT_FOUND', isNoCheckpoint],
  ['inconsistent bitmap', "error: checkpoint inconsistent: missing or broken bitmap 'kvmclone.t1.2' for disk 'vdb'", 'FAILED_PRECONDITION', isCheckpointInconsistent],
  [
    'deleting a broken checkpoint',
    "error: Failed to delete checkpoint kvmclone.t1.2\nerror: internal error: bitmap 'kvmclone.t1.2' not found in backing chain of 'vdb'",
    'FAILED_PRECONDITION',
    isCheckpointInconsistent,
  ],
  ['raw disk', 'error: unsupported configuration: checkpoint for disk vdc unsupported for storage type raw', 'FAILED_PRECONDITION', isCheckpointUnsupported],
  ['checkpoint exists', 'error: operation failed: domain moment kvmclone.t1.1 already exists', 'ALREADY_EXISTS', isCheckpointExists],
  ['scratch exists', "error: invalid argument: store '/tmp/s/vdb.scratch' for backup of 'vdb' exists", 'ALREADY_EXISTS', isBackupScratchExists],
  [
    'agent not connected',
    'error: Unable to freeze filesystems\nerror: Guest agent is not responding: QEMU guest agent is not connected',
    'FAILED_PRECONDITION',
    isGuestAgentUnavailable,
  ],
  ['agent not configured', 'error: Unable to thaw filesystems\nerror: argument unsupported: QEMU guest agent is not configured', 'FAILED_PRECONDITION', isGuestAgentUnavailable],
  ['not running', 'error: Requested operation is not valid: domain is not running', 'FAILED_PRECONDITION', isDomainNotRunning],
  ['backup of a stopped domain', 'error: Operation not supported: cannot perform disk backup for inactive domain', 'FAILED_PRECONDITION', isDomainNotRunning],
  [
    'checkpoint of a stopped domain',
    'error: Failed to delete checkpoint kvmclone.t1.2\nerror: Operation not supported: cannot delete checkpoint for inactive domain',
    'FAILED_PRECONDITION',
    isDomainNotRunning,
  ],
];

for (const [name, stderr, code, predicate] of MESSAGES) {
  test(`libvirt 9.0 says "${name}": ${code}, and the predicate sees it raw and through the port's error`, () => {
    const raw = virsh(stderr);
    assert.ok(predicate(raw));
    const err = mapped(raw);
    assert.ok(err instanceof KvmcloneError);
    assert.equal(err.code, code);
    assert.ok(predicate(err));
  });
}

test("the live predicates do not match each other's messages", () => {
  for (const [name, stderr, , predicate] of MESSAGES) {
    for (const [other, otherStderr, , otherPredicate] of MESSAGES) {
      if (predicate === otherPredicate) continue;
      assert.ok(!predicate(virsh(otherStderr)), `${name}'s predicate matched "${other}"`);
    }
    assert.ok(!predicate(new Error(stderr)), 'a plain Error is no libvirt failure');
  }
  assert.ok(isDomainExists(virsh("error: operation failed: domain 'p1' already exists with uuid 65c0b1eb-b408-4050-9f94-df6cf7bf9508")));
});
