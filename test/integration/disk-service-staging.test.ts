/**
 * DiskService's staging files over real gRPC on a unix socket: a commit
 * onto an existing target only with replace, an abort that can be repeated,
 * and the lock of a staging file that a WriteRanges still writes.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHash } from '../../shared/block-hash.js';
import { allocated, call, eventually, stagingFiles, statusOf, writeAll } from './disk-harness.js';
import { KiB, MiB, useDiskHarness } from './support/disk-service-fixture.js';

const h = useDiskHarness();

describe('ReadRanges → WriteRanges → CommitStaging', () => {
  test('commit without replace onto an existing target is ALREADY_EXISTS; with replace it succeeds', async () => {
    const target = join(h.root, 'exists.raw');
    await writeFile(target, 'old image');
    const data = randomBytes(64 * KiB);
    const res = await writeAll(h.client, [{ open: { targetPath: target, size: data.length } }, { data: { offset: 0, data, hash: chunkHash(data) } }]);
    assert.equal(res.bytesWritten, data.length);
    assert.equal(res.chunksWritten, 1);
    assert.equal(res.stagingPath, join(h.root, `.exists.raw.${res.stagingId}.kvmclone-staging`));
    const refused = await statusOf(call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: res.stagingId }, cb)));
    assert.equal(refused.code, grpc.status.ALREADY_EXISTS);
    assert.match(refused.details, /already exists.*replace/);
    assert.equal(await readFile(target, 'utf8'), 'old image');
    assert.deepEqual(await stagingFiles(h.root), [`.exists.raw.${res.stagingId}.kvmclone-staging`]);
    await call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: res.stagingId, replace: true }, cb));
    assert.deepEqual(await readFile(target), data);
    assert.deepEqual(await stagingFiles(h.root), []);
    const again = await statusOf(call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: res.stagingId }, cb)));
    assert.equal(again.code, grpc.status.NOT_FOUND);
  });

  test('abort removes the staging file, and aborting again succeeds with removed = false', async () => {
    const target = join(h.root, 'aborted.raw');
    const res = await writeAll(h.client, [{ open: { targetPath: target, size: 10 * MiB } }]);
    assert.equal((await stat(res.stagingPath)).size, 10 * MiB);
    assert.equal(await allocated(res.stagingPath), 0, 'a new staging file is sparse');
    assert.equal((await stat(res.stagingPath)).mode & 0o777, 0o600);
    const first = await call<{ removed: boolean }>((cb) => h.client.AbortStaging({ targetPath: target, stagingId: res.stagingId }, cb));
    assert.equal(first.removed, true);
    assert.deepEqual(await stagingFiles(h.root), []);
    const second = await call<{ removed: boolean }>((cb) => h.client.AbortStaging({ targetPath: target, stagingId: res.stagingId }, cb));
    assert.equal(second.removed, false);
    await assert.rejects(stat(target));
  });

  test('a staging file in use is locked: abort and commit are ABORTED until the write ends', async () => {
    const target = join(h.root, 'locked.raw');
    const stream = h.client.WriteRanges(() => undefined);
    stream.write({ open: { targetPath: target, size: 1 * MiB } });
    let name: string | undefined;
    await eventually(async () => (name = (await stagingFiles(h.root)).find((n) => n.startsWith('.locked.raw.'))) !== undefined, 'the staging file exists');
    const id = (name as string).slice('.locked.raw.'.length, -'.kvmclone-staging'.length);
    const busy = await statusOf(call((cb) => h.client.AbortStaging({ targetPath: target, stagingId: id }, cb)));
    assert.equal(busy.code, grpc.status.ABORTED);
    const busyCommit = await statusOf(call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: id }, cb)));
    assert.equal(busyCommit.code, grpc.status.ABORTED);
    stream.end();
    await eventually(
      async () => (await call<{ removed: boolean }>((cb) => h.client.AbortStaging({ targetPath: target, stagingId: id }, cb)).catch(() => ({ removed: false }))).removed,
      'the abort succeeds',
    );
    assert.deepEqual(await stagingFiles(h.root), []);
  });
});
