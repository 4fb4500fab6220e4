/**
 * Leftovers (agent/leftovers/*): which names are kvmclone's and what
 * operation they name, the decision table of RemoveLeftovers, the registry of
 * running operations, /proc/locks parsing, and the operation id recorded on
 * a file as an extended attribute.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLeftoverName } from '../../agent/leftovers/leftover-names.js';
import { COMMITTED_JOURNAL_REASON, decideLeftover, type LeftoverFacts } from '../../agent/leftovers/leftover-decision.js';
import { RunningOperations } from '../../agent/leftovers/running-operations.js';
import { lockKeyOf, parseFlockedInodes, flockedInodes } from '../../agent/leftovers/flocked-inodes.js';
import { recordOperation, recordedOperation } from '../../agent/leftovers/operation-xattr.js';
import { currentOperationId, operationIdOfCall, withCallOperation } from '../../agent/leftovers/call-operation.js';
import { stagingNameFor } from '../../agent/disk/staging-file.js';
import { flock, LOCK } from '../../agent/native/fd-calls.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { scratchPathFor, backupSocketFor } from '../../agent/live/scratch-files.js';
import { Metadata } from '@grpc/grpc-js';
import { OPERATION_ID_METADATA } from '../../shared/operation-metadata.js';
import { READ_ONLY_METHODS, isMutating } from '../../agent/rpc/method-roles.js';
import { AGENT_CAPABILITIES } from '../../shared/capabilities.js';
import { withTempDir } from '../support/temp-dir.js';

const OP = 'op-1234abcd-5678';
const UUID = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';

test('the names kvmclone makes are recognised, with their operation id where the name has one', () => {
  assert.deepEqual(parseLeftoverName(stagingNameFor('web.qcow2', UUID), 'image-dir'), { kind: 'staging', operationId: '', image: 'web.qcow2', stagingId: UUID });
  assert.deepEqual(parseLeftoverName('.web.qcow2.kvmclone-journal', 'image-dir'), { kind: 'journal', operationId: '', image: 'web.qcow2' });
  // The path helpers and the parser agree.
  assert.equal(parseLeftoverName(journalPathFor('/imgs/a b.img').split('/').pop() as string, 'image-dir')?.image, 'a b.img');
  assert.deepEqual(parseLeftoverName(`peer-${OP}.sock`, 'forward-dir'), { kind: 'peer-socket', operationId: OP });
  assert.deepEqual(parseLeftoverName(scratchPathFor('/s', OP, 'vda').slice(3), 'scratch-dir'), { kind: 'scratch', operationId: OP });
  assert.deepEqual(parseLeftoverName(scratchPathFor('/s', OP, 'vda').slice(3), 'image-dir'), { kind: 'scratch', operationId: OP });
  assert.deepEqual(parseLeftoverName(backupSocketFor('/run/k', OP).split('/').pop() as string, 'live-dir'), { kind: 'backup-socket', operationId: OP });
});

test('names that are not kvmclone leftovers are never taken for one', () => {
  for (const [name, place] of [
    ['web.qcow2', 'image-dir'],
    ['.web.qcow2.not-a-uuid.kvmclone-staging', 'image-dir'],
    ['.kvmclone-journal', 'image-dir'],
    [`peer-${OP}.sock`, 'image-dir'],
    ['peer-short.sock', 'forward-dir'],
    [`peer-${OP}.sock.bak`, 'forward-dir'],
    ['agent.sock', 'forward-dir'],
    [`backup-${OP}.sock`, 'forward-dir'],
    ['.kvmclone-scratch.UPPER-CASE-ID.vda.qcow2', 'scratch-dir'],
    [`.web.qcow2.kvmclone-journal`, 'forward-dir'],
    [`backup-../../etc.sock`, 'live-dir'],
  ] as const) {
    assert.equal(parseLeftoverName(name, place), undefined, `${name} in ${place}`);
  }
});

const base: LeftoverFacts = { kind: 'staging', operationId: OP, ageSeconds: 7200, running: false, committed: false };

test('decision table: not running and old enough goes; running, committed journals, locks and young ones stay', () => {
  assert.deepEqual(decideLeftover(base, 0), { remove: true });
  assert.deepEqual(decideLeftover(base, 3600), { remove: true });
  for (const kind of ['journal', 'peer-socket', 'scratch', 'backup-socket'] as const) assert.deepEqual(decideLeftover({ ...base, kind }, 0), { remove: true }, kind);

  const running = decideLeftover({ ...base, running: true }, 0);
  assert.equal(running.remove, false);
  assert.match(!running.remove ? running.reason : '', new RegExp(`operation ${OP} is still running`));
  const inUse = decideLeftover({ ...base, operationId: '', running: true }, 0);
  assert.match(!inUse.remove ? inUse.reason : '', /in use by a running operation/);

  assert.deepEqual(decideLeftover({ ...base, kind: 'journal', committed: true }, 0), { remove: false, reason: COMMITTED_JOURNAL_REASON });
  assert.match(COMMITTED_JOURNAL_REASON, /will be applied at the next sync or agent start/);
  // A committed journal stays whatever its age; "committed" means nothing for other kinds.
  assert.equal(decideLeftover({ ...base, kind: 'journal', committed: true, ageSeconds: 1e9 }, 0).remove, false);

  const young = decideLeftover({ ...base, ageSeconds: 60 }, 3600);
  assert.match(!young.remove ? young.reason : '', /younger than the age limit \(60 s old, limit 3600 s\)/);

  assert.equal(decideLeftover({ ...base, kind: 'lock', running: true }, 0).remove, false);
  assert.equal(decideLeftover({ ...base, kind: 'lock', running: false }, 0).remove, false);
});

test('running operations: counted per id, only for the operation-holding methods, ended once', () => {
  const ops = new RunningOperations();
  const a = ops.enter('/kvmclone.agent.v1.TransferService/PullImage', OP);
  const b = ops.enter('/kvmclone.agent.v1.DiskService/WriteRanges', OP);
  ops.enter('/kvmclone.agent.v1.DiskService/StatImage', 'other-op-1234');
  ops.enter('/kvmclone.agent.v1.TransferService/HoldLock', null);
  assert.deepEqual(ops.ids(), [OP]);
  a();
  a();
  assert.equal(ops.has(OP), true);
  b();
  assert.equal(ops.has(OP), false);
  assert.equal(ops.has(''), false);
});

test('the call operation: the request field wins over metadata; carried through awaits', async () => {
  const md = new Metadata();
  md.set(OPERATION_ID_METADATA, 'from-metadata-1');
  assert.equal(operationIdOfCall({ operationId: 'from-request-1' }, md), 'from-request-1');
  assert.equal(operationIdOfCall({ operationId: '' }, md), 'from-metadata-1');
  assert.equal(operationIdOfCall(undefined, undefined), null);
  assert.equal(currentOperationId(), null);
  const seen = await withCallOperation(OP, async () => {
    await new Promise((r) => setTimeout(r, 5));
    return currentOperationId();
  });
  assert.equal(seen, OP);
});

test('/proc/locks: FLOCK lines (holders and waiters) give MAJOR:MINOR:INODE keys that match lockKeyOf', async () => {
  const text = [
    '1: FLOCK  ADVISORY  WRITE 4242 fe:01:123456 0 EOF',
    '1: -> FLOCK  ADVISORY  WRITE 4243 fe:01:123456 0 EOF',
    '2: POSIX  ADVISORY  WRITE 99 08:02:777 0 EOF',
    '3: OFDLCK ADVISORY  READ  -1 00:1a:42 0 EOF',
  ].join('\n');
  assert.deepEqual([...parseFlockedInodes(text)], ['fe:01:123456']);
  assert.equal(lockKeyOf((0xfen << 8n) | 1n, 123456n), 'fe:01:123456');

  // A real flock shows up under the key of the file's own stat.
  const dir = await mkdtemp(join(tmpdir(), 'leftovers-'));
  try {
    const path = join(dir, 'f');
    await writeFile(path, 'x');
    const fh = await open(path, 'r');
    flock(fh.fd, LOCK.EX | LOCK.NB);
    const st = await stat(path, { bigint: true });
    assert.equal((await flockedInodes()).has(lockKeyOf(st.dev, st.ino)), true);
    await fh.close();
    assert.equal((await flockedInodes()).has(lockKeyOf(st.dev, st.ino)), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the operation id is recorded on the file and read back without following symlinks', () =>
  withTempDir('leftovers-', async (dir) => {
    const path = join(dir, 'staging');
    await writeFile(path, '');
    assert.equal(recordedOperation(path), '');
    const fh = await open(path, 'r+');
    recordOperation(fh, OP);
    recordOperation(fh, null);
    await fh.close();
    assert.equal(recordedOperation(path), OP);
    assert.equal(recordedOperation(join(dir, 'absent')), '');
  }));

test('ListLeftovers is read-only, RemoveLeftovers is mutating (admin, audited); both announced', () => {
  assert.equal(READ_ONLY_METHODS.has('/kvmclone.agent.v1.TransferService/ListLeftovers'), true);
  assert.equal(isMutating('/kvmclone.agent.v1.TransferService/RemoveLeftovers'), true);
  assert.ok((AGENT_CAPABILITIES as readonly string[]).includes('transfer.leftovers'));
});
