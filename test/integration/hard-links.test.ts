/**
 * Hard-linked images are refused for writes (issue 10, hole 4). A hard link
 * inside the roots may be another name of a file outside them (here: a file
 * in a directory beside the root, on the same filesystem): WriteRanges onto
 * it, a replacing commit onto it, RemoveImage of it and a journal applied to
 * it would all reach that file through a name that passes every path check.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { link, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { chunkHash } from '../../shared/block-hash.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { recoverJournal } from '../../agent/transfer/journal-recovery.js';
import { JournalWriter } from '../../agent/transfer/journal-writer.js';
import { call, stagingFiles, startDiskHarness, statusOf, writeAll, type DiskHarness } from './disk-harness.js';

const SECRET = Buffer.from('the file outside the roots');
let h: DiskHarness;
let secret: string;

before(async () => {
  h = await startDiskHarness();
  secret = join(h.outside, 'secret.img');
  await writeFile(secret, SECRET);
});

after(async () => {
  await h.close();
});

async function linkedImage(name: string): Promise<string> {
  const path = join(h.root, name);
  await link(secret, path);
  return path;
}

async function secretUntouched(): Promise<void> {
  assert.deepEqual(await readFile(secret), SECRET);
  assert.equal((await stat(secret)).size, SECRET.length);
}

test('WriteRanges onto a hard-linked target is FAILED_PRECONDITION and leaves no staging file', async () => {
  const target = await linkedImage('w.img');
  const data = randomBytes(4096);
  const s = await statusOf(writeAll(h.client, [{ open: { targetPath: target, size: data.length } }, { data: { offset: 0, data, hash: chunkHash(data) } }]));
  assert.equal(s.code, grpc.status.FAILED_PRECONDITION);
  assert.match(s.details, /open\.target_path: .*w\.img has 2 hard links/);
  assert.deepEqual(await stagingFiles(h.root), []);
  await secretUntouched();
});

test('a replacing commit onto a target that became hard-linked is refused; the staging file stays for an abort', async () => {
  const target = join(h.root, 'c.img');
  await writeFile(target, 'old');
  const data = randomBytes(4096);
  const res = await writeAll(h.client, [{ open: { targetPath: target, size: data.length } }, { data: { offset: 0, data, hash: chunkHash(data) } }]);
  await link(target, join(h.outside, 'c-other-name.img'));
  const s = await statusOf(call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: res.stagingId, replace: true }, cb)));
  assert.equal(s.code, grpc.status.FAILED_PRECONDITION);
  assert.match(s.details, /target_path: .*c\.img has 2 hard links/);
  assert.equal(await readFile(target, 'utf8'), 'old');
  assert.equal(await readFile(join(h.outside, 'c-other-name.img'), 'utf8'), 'old');
  await call((cb) => h.client.AbortStaging({ targetPath: target, stagingId: res.stagingId }, cb));
  assert.deepEqual(await stagingFiles(h.root), []);
});

test('RemoveImage of a hard-linked image is refused', async () => {
  const target = await linkedImage('r.img');
  const s = await statusOf(call((cb) => h.client.RemoveImage({ path: target }, cb)));
  assert.equal(s.code, grpc.status.FAILED_PRECONDITION);
  assert.match(s.details, /hard links/);
  assert.ok((await stat(target)).isFile(), 'the name is still there');
  await secretUntouched();
});

test('a committed sync journal is not applied to an image that became hard-linked: discarded, image untouched', async () => {
  const image = join(h.root, 'j.img');
  await writeFile(image, Buffer.alloc(8192, 7));
  const st = await stat(image, { bigint: true });
  const writer = await JournalWriter.create(journalPathFor(image), image);
  await writer.begin({ dev: st.dev, ino: st.ino, size: 8192 });
  const data = Buffer.alloc(4096, 9);
  await writer.addData(0, data, chunkHash(data));
  await writer.commit();
  await writer.close();
  await link(image, join(h.outside, 'j-other-name.img'));
  const result = await recoverJournal(image, pino({ level: 'silent' }), { roots: await ImageRoots.open([h.root]) });
  assert.equal(result.outcome, 'foreign');
  assert.match(result.outcome === 'foreign' ? result.reason : '', /hard links/);
  assert.deepEqual(await readFile(join(h.outside, 'j-other-name.img')), Buffer.alloc(8192, 7));
  await assert.rejects(stat(journalPathFor(image)), 'the journal was removed');
});
