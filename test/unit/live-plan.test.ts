/**
 * The pieces that decide a live view and its delta: view paths, kvmclone's
 * checkpoint names (never another tool's), the backup plan's fallbacks and
 * their reasons (raw disk, lost metadata with and without saved XML,
 * inconsistent bitmaps), quiesce modes, dirty ranges on the block grid, and
 * the destination identity check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import { planBackup, type PlannedDisk } from '../../agent/live/backup-plan.js';
import { nextCheckpointName, parseCheckpointName, replicaCheckpoints } from '../../agent/live/checkpoint-names.js';
import { quiescedStart } from '../../agent/live/quiesce.js';
import { isViewPath, parseViewPath, viewPathOf } from '../../agent/live/view-path.js';
import { KvmcloneError } from '../../shared/errors.js';
import { gridRanges } from '../../controller/operations/live/live-delta.js';
import { sameIdentities } from '../../controller/operations/live/live-confirm.js';
import { liveOptionsOf } from '../../controller/cli/live-flags.js';

const log = pino({ level: 'silent' });
const OP = 'op-12345678';
const REPLICA = 'r0123456789abcd';

function domainXml(formats: Record<string, string>): string {
  const disks = Object.entries(formats)
    .map(([t, f]) => `<disk type='file' device='disk'><driver name='qemu' type='${f}'/><source file='/img/${t}.${f}'/><target dev='${t}' bus='virtio'/></disk>`)
    .join('');
  return `<domain type='kvm'><name>vm1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>${disks}</devices></domain>`;
}

function disks(formats: Record<string, string>): PlannedDisk[] {
  return Object.entries(formats).map(([t, f]) => ({
    target: t,
    sourcePath: `/img/${t}.${f}`,
    format: f,
    virtualSize: 1 << 26,
    scratch: `/img/.kvmclone-scratch.${OP}.${t}.qcow2`,
  }));
}

async function runningVm(formats: Record<string, string>): Promise<FakeLibvirt> {
  const fake = new FakeLibvirt();
  await fake.addDomain(domainXml(formats), 'running');
  return fake;
}

const request = (_fake: FakeLibvirt, formats: Record<string, string>, over: Partial<Parameters<typeof planBackup>[1]> = {}): Parameters<typeof planBackup>[1] => ({
  vm: 'vm1',
  disks: disks(formats),
  socket: `/run/kvmclone/live/backup-${OP}.sock`,
  incrementalFrom: '',
  incrementalFromXml: '',
  checkpoint: `kvmclone.${REPLICA}.1`,
  existing: [],
  signal: new AbortController().signal,
  log,
  ...over,
});

test('view paths: made, recognised, and anything else refused', () => {
  const p = viewPathOf(OP, 'vdb');
  assert.equal(p, `/.kvmclone-live/${OP}/vdb`);
  assert.ok(isViewPath(p));
  assert.deepEqual(parseViewPath(p), { operationId: OP, target: 'vdb' });
  for (const bad of ['/.kvmclone-live/op/vdb', `/.kvmclone-live/${OP}/../etc`, `/.kvmclone-live/${OP}/vdb/x`, '/var/lib/libvirt/images/a.qcow2']) {
    assert.throws(
      () => parseViewPath(bad),
      (e: unknown) => e instanceof KvmcloneError && e.code === 'INVALID_ARGUMENT',
      bad,
    );
  }
});

test("checkpoint names: only kvmclone's, per replica, numbered on", () => {
  const names = [`kvmclone.${REPLICA}.2`, 'virtnbdbackup.0', `kvmclone.${REPLICA}.10`, 'kvmclone.rother00000000.3', `kvmclone.${REPLICA}.1`];
  assert.deepEqual(replicaCheckpoints(names, REPLICA), [`kvmclone.${REPLICA}.1`, `kvmclone.${REPLICA}.2`, `kvmclone.${REPLICA}.10`]);
  assert.equal(nextCheckpointName(names, REPLICA), `kvmclone.${REPLICA}.11`);
  assert.equal(nextCheckpointName(['virtnbdbackup.0'], REPLICA), `kvmclone.${REPLICA}.1`);
  assert.equal(parseCheckpointName('virtnbdbackup.0'), undefined);
});

test('backup plan: a full view with a checkpoint; incremental when the base exists', async () => {
  const fake = await runningVm({ vda: 'qcow2', vdb: 'qcow2' });
  const first = await planBackup(fake, request(fake, { vda: 'qcow2', vdb: 'qcow2' }));
  assert.equal(first.incrementalFrom, '');
  assert.equal(first.reason, '');
  const { job } = await first.begin(first);
  assert.equal(job.mode, 'pull');
  await fake.abortJob('vm1');
  const existing = (await fake.listCheckpoints('vm1')).map((c) => c.name);
  assert.deepEqual(existing, [`kvmclone.${REPLICA}.1`]);
  const second = await planBackup(fake, request(fake, { vda: 'qcow2', vdb: 'qcow2' }, { incrementalFrom: `kvmclone.${REPLICA}.1`, checkpoint: `kvmclone.${REPLICA}.2`, existing }));
  assert.equal(second.incrementalFrom, `kvmclone.${REPLICA}.1`);
  const { job: inc } = await second.begin(second);
  assert.equal(inc.incremental, `kvmclone.${REPLICA}.1`);
});

test('backup plan: a raw disk means a full view and no checkpoint for it, with the reason', async () => {
  const fake = await runningVm({ vda: 'raw' });
  const plan = await planBackup(fake, request(fake, { vda: 'raw' }, { incrementalFrom: `kvmclone.${REPLICA}.1`, existing: [`kvmclone.${REPLICA}.1`] }));
  assert.equal(plan.incrementalFrom, '');
  assert.equal(plan.checkpoint, '');
  assert.match(plan.reason, /vda is raw/);
  assert.match(plan.reason, /no checkpoint made/);
});

test('backup plan: lost checkpoint metadata is redefined from the saved XML (parent gone), else the reason says so', async () => {
  const fake = await runningVm({ vda: 'qcow2' });
  const first = await planBackup(fake, request(fake, { vda: 'qcow2' }));
  await first.begin(first);
  await fake.abortJob('vm1');
  const xml = await fake.checkpointXml('vm1', `kvmclone.${REPLICA}.1`);
  await fake.deleteCheckpoint('vm1', `kvmclone.${REPLICA}.1`, { metadataOnly: true });
  const without = await planBackup(fake, request(fake, { vda: 'qcow2' }, { incrementalFrom: `kvmclone.${REPLICA}.1`, checkpoint: `kvmclone.${REPLICA}.2` }));
  assert.equal(without.incrementalFrom, '');
  assert.match(without.reason, /gone from libvirt .* no saved copy/);
  const redefined = await planBackup(
    fake,
    request(fake, { vda: 'qcow2' }, { incrementalFrom: `kvmclone.${REPLICA}.1`, incrementalFromXml: xml, checkpoint: `kvmclone.${REPLICA}.2` }),
  );
  assert.equal(redefined.incrementalFrom, `kvmclone.${REPLICA}.1`, redefined.reason);
});

test('backup plan: bitmaps left inconsistent by an unclean QEMU exit fall back to a full view with the reason', async () => {
  const fake = await runningVm({ vda: 'qcow2' });
  const first = await planBackup(fake, request(fake, { vda: 'qcow2' }));
  await first.begin(first);
  await fake.abortJob('vm1');
  fake.killQemu('vm1');
  await fake.startDomain('vm1');
  const existing = (await fake.listCheckpoints('vm1')).map((c) => c.name);
  const plan = await planBackup(fake, request(fake, { vda: 'qcow2' }, { incrementalFrom: `kvmclone.${REPLICA}.1`, checkpoint: `kvmclone.${REPLICA}.2`, existing }));
  assert.equal(plan.incrementalFrom, `kvmclone.${REPLICA}.1`);
  try {
    const { plan: ran } = await plan.begin(plan);
    assert.equal(ran.incrementalFrom, '');
    assert.match(ran.reason, /inconsistent/);
  } catch (err) {
    // A fake that refuses a new checkpoint beside broken bitmaps still must not report success.
    assert.ok(err instanceof KvmcloneError, String(err));
  }
});

test('quiesce: filesystem with a guest agent, crash without one, refused when required', async () => {
  const fake = await runningVm({ vda: 'qcow2' });
  const ok = await quiescedStart(fake, 'vm1', 'try', 1000, log, async () => fake.isFrozen('vm1'));
  assert.deepEqual(ok, { consistency: 'filesystem', plan: true });
  assert.equal(fake.isFrozen('vm1'), false, 'thawed afterwards');
  fake.guestAgent = 'not-connected';
  assert.equal((await quiescedStart(fake, 'vm1', 'try', 1000, log, async () => 1)).consistency, 'crash');
  await assert.rejects(
    quiescedStart(fake, 'vm1', 'require', 1000, log, async () => 1),
    (e: unknown) => e instanceof KvmcloneError && e.code === 'FAILED_PRECONDITION' && /guest-agent/.test(e.message),
  );
  assert.equal((await quiescedStart(fake, 'vm1', 'off', 1000, log, async () => 1)).consistency, 'crash');
});

test('dirty ranges are widened to the 64 KiB grid, merged, clipped at the end', () => {
  const K = 1024;
  assert.deepEqual(
    gridRanges(
      [
        { offset: 70 * K, length: 10 * K },
        { offset: 0, length: 4 * K },
        { offset: 128 * K, length: 1 },
      ],
      1000 * K,
    ),
    [{ offset: 0, length: 192 * K }],
  );
  assert.deepEqual(gridRanges([{ offset: 990 * K, length: 10 * K }], 1000 * K), [{ offset: 960 * K, length: 40 * K }]);
});

test('destination identity: any change of path, inode, size or times is named', () => {
  const a = { target: 'vda', path: '/i/a', dev: 1, ino: 2, size: 3, mtimeNs: '4', ctimeNs: '5' };
  assert.deepEqual(sameIdentities([a], [{ ...a }]), { same: true, why: '' });
  assert.match(sameIdentities([a], [{ ...a, mtimeNs: '6' }]).why, /changed since the last sync \(mtimeNs\)/);
  assert.match(sameIdentities([a], []).why, /no image/);
});

test('--quiesce and --cbt need --live', () => {
  assert.equal(liveOptionsOf({}), undefined);
  assert.deepEqual(liveOptionsOf({ live: true }), { quiesce: 'try', cbt: true });
  assert.deepEqual(liveOptionsOf({ live: true, quiesce: 'off', cbt: 'off' }), { quiesce: 'off', cbt: false });
  assert.throws(() => liveOptionsOf({ cbt: 'off' }), /go with --live/);
});
