/**
 * Bitmap or hashes for a failback, without hosts: the bitmap only when the
 * failover made a checkpoint of the copy at its first instant with a cleanly
 * shut-off original, the copy runs, the way back still has a confirmed
 * checkpoint and the original's images are as recorded with it — every
 * other case hashes, with a reason naming what failed. Also what a failover
 * says when it makes no checkpoint (a raw disk, an old agent, --point, a
 * crashed, unreachable or absent source).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DescribeDomainResponse__Output } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import type { ImageIdentity, LiveReplicaState } from '../../controller/history/live-replica-store.js';
import { decideFailbackDelta, type FailbackDeltaInput } from '../../controller/replication/failback-delta.js';
import { checkpointBlocker } from '../../controller/replication/failover-checkpoint.js';
import type { FailoverRecord } from '../../controller/replication/failover-store.js';
import { reverseKey, unplannedNoCheckpoint } from '../../controller/replication/failover.js';

const CP = 'kvmclone.r0123456789abcde.1';
const image = (target: string, over: Partial<ImageIdentity> = {}): ImageIdentity => ({
  target,
  path: `/var/lib/libvirt/images/web1-${target}.qcow2`,
  dev: 2049,
  ino: 100,
  size: 1 << 20,
  mtimeNs: '1000',
  ctimeNs: '1000',
  ...over,
});
const failover: FailoverRecord = {
  replica: 'r1',
  operationId: 'op1',
  at: '2025-05-01T10:00:00.000Z',
  source: 'shutoff',
  point: null,
  pausedBefore: false,
  checkpoint: CP,
  noCheckpoint: '',
};
const reverse: LiveReplicaState = {
  replicaId: 'r0123456789abcde',
  checkpoint: CP,
  checkpointXml: '<domaincheckpoint/>',
  images: [image('vda'), image('vdb', { ino: 101 })],
  updatedAt: 'then',
};
const good: FailbackDeltaInput = { failover, copyRuns: true, reverse, originalNow: [image('vda'), image('vdb', { ino: 101 })] };

test('the bitmap when the failover checkpointed an equal copy, the copy runs and the original is as recorded', () => {
  const d = decideFailbackDelta(good);
  assert.equal(d.delta, 'bitmap');
  assert.match(d.why, new RegExp(`dirty bitmap since checkpoint ${CP.replace(/\./g, '\\.')}: the original is unchanged`));
  // A later failback: the previous one confirmed the next checkpoint and the original as it left it.
  const later = decideFailbackDelta({
    ...good,
    reverse: { ...reverse, checkpoint: 'kvmclone.r0123456789abcde.2', images: [image('vda', { mtimeNs: '2000', ctimeNs: '2000' }), image('vdb', { ino: 101 })] },
    originalNow: [image('vda', { mtimeNs: '2000', ctimeNs: '2000' }), image('vdb', { ino: 101 })],
  });
  assert.equal(later.delta, 'bitmap');
});

test('hashes, with the reason, whenever the bitmap cannot be known to cover what differs', () => {
  const cases: [string, FailbackDeltaInput, RegExp][] = [
    ['no failover record', { ...good, failover: undefined }, /how the failover left the original is not recorded/],
    ['crashed original', { ...good, failover: { ...failover, source: 'crashed' } }, /had crashed at the failover .*writes the copy never saw/],
    ['unreachable original', { ...good, failover: { ...failover, source: 'unreachable' } }, /could not be reached at the failover .*writes the copy never saw/],
    [
      'no checkpoint made (raw disk)',
      { ...good, failover: { ...failover, checkpoint: null, noCheckpoint: 'disk vdb (raw) of the copy is not qcow2' } },
      /^disk vdb \(raw\) of the copy is not qcow2$/,
    ],
    ['no checkpoint, no reason recorded', { ...good, failover: { ...failover, checkpoint: null } }, /the failover made no checkpoint/],
    ['copy shut off', { ...good, copyRuns: false, originalNow: undefined }, /the copy is shut off/],
    ['no confirmed checkpoint any more', { ...good, reverse: { ...reverse, checkpoint: '' } }, /no checkpoint of the copy is confirmed any more/],
    ['no reverse state', { ...good, reverse: undefined }, /no checkpoint of the copy is confirmed any more/],
    [
      'original written (mtime)',
      { ...good, originalNow: [image('vda', { mtimeNs: '1001' }), image('vdb', { ino: 101 })] },
      /original changed since the failover: .*web1-vda\.qcow2 changed .*\(mtimeNs\)/,
    ],
    ['original replaced (inode)', { ...good, originalNow: [image('vda'), image('vdb', { ino: 555 })] }, /original changed since the failover: .*\(ino\)/],
    ['original lost a disk', { ...good, originalNow: [image('vda')] }, /disk vdb has no image/],
    ['original gained a disk', { ...good, originalNow: [image('vda'), image('vdb', { ino: 101 }), image('vdc')] }, /disk vdc was not part of the last sync/],
    ['original not read', { ...good, originalNow: undefined }, /were not checked/],
  ];
  for (const [name, input, why] of cases) {
    const d = decideFailbackDelta(input);
    assert.equal(d.delta, 'hash', name);
    assert.match(d.why, why, name);
  }
});

const described = (disks: { target: string; format: string; device?: string; path?: string }[]): DescribeDomainResponse__Output =>
  ({ disks: disks.map((d) => ({ device: 'disk', path: `/i/${d.target}`, ...d })) }) as unknown as DescribeDomainResponse__Output;
const caps = ['domain.start-paused', 'transfer.live'];

test('a failover checkpoints the copy only when every disk is qcow2 and its agent starts paused and opens views', () => {
  assert.equal(
    checkpointBlocker(
      described([
        { target: 'vda', format: 'qcow2' },
        { target: 'vdb', format: 'qcow2' },
        { target: 'sda', format: 'raw', device: 'cdrom' },
      ]),
      'hostb',
      caps,
    ),
    '',
  );
  assert.match(
    checkpointBlocker(
      described([
        { target: 'vda', format: 'qcow2' },
        { target: 'vdb', format: 'raw' },
      ]),
      'hostb',
      caps,
    ),
    /^disk vdb \(raw\) of the copy is not qcow2: dirty bitmaps live in qcow2 images only$/,
  );
  assert.match(checkpointBlocker(described([{ target: 'vda', format: 'qcow2' }]), 'hostb', ['transfer.live']), /agent on hostb lacks domain\.start-paused/);
  assert.match(checkpointBlocker(described([]), 'hostb', caps), /no file-backed disk/);
});

test('what an unplanned failover says instead of a checkpoint; the way back is the copy to the original', () => {
  const r = { vm: 'web1', from: 'hosta' };
  assert.equal(unplannedNoCheckpoint('shutoff', undefined, r), '');
  assert.match(unplannedNoCheckpoint('shutoff', 'p3', r), /restore point p3, not equal to the original/);
  assert.match(unplannedNoCheckpoint('crashed', undefined, r), /web1 had crashed on hosta/);
  assert.match(unplannedNoCheckpoint('unreachable', undefined, r), /hosta could not be reached/);
  assert.match(unplannedNoCheckpoint('absent', undefined, r), /no web1 on hosta/);
  assert.deepEqual(reverseKey({ vm: 'web1', from: 'hosta', destVm: 'web1-dr', to: 'hostb' }), { sourceHost: 'hostb', vm: 'web1-dr', destHost: 'hosta', destVm: 'web1' });
});
