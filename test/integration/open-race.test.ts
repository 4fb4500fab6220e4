/**
 * Check-then-use races (issue 10, hole 4), against a real DiskService: a
 * racing process swaps a directory under the root with a symlink to a
 * directory outside it, over and over, while the calls run. The agent used to
 * resolve a path with realpath and then open it by name, so a swap between
 * the two led its reads, writes and commits outside the roots. Opened once
 * beneath the root (openat2, no symlinks followed) they never may: each call
 * either works on the file inside or fails with a status — never touches the
 * outside one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { chunkHash } from '../../shared/block-hash.js';
import type { ReadRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import type { StatImageResponse__Output } from '../../shared/generated/kvmclone/agent/v1/StatImageResponse.js';
import { RENAME, renameat2 } from '../../agent/native/libc.js';
import { pino } from 'pino';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { recoverJournal } from '../../agent/transfer/journal-recovery.js';
import { JournalWriter } from '../../agent/transfer/journal-writer.js';
import { call, collect, writeAll } from './disk-harness.js';
import { useDiskHarness } from './support/disk-service-fixture.js';

const AT_FDCWD = -100;
/** How long each race runs. */
const RACE_MS = 4000;
const INSIDE = Buffer.alloc(8192, 'i');
const OUTSIDE = Buffer.alloc(4096, 'O');

let dir: string;
let swapName: string;

const h = useDiskHarness(async (harness) => {
  dir = join(harness.root, 'vm');
  swapName = join(harness.root, 'vm-swap');
  await mkdir(dir);
  await writeFile(join(dir, 'disk.raw'), INSIDE);
  await mkdir(join(harness.outside, 'vm'));
  await writeFile(join(harness.outside, 'vm', 'disk.raw'), OUTSIDE);
  // The name the swapper exchanges with the directory: a symlink leading outside the root.
  await symlink(join(harness.outside, 'vm'), swapName);
});

/** Runs `body` while the swapper exchanges `vm` and `vm-swap`; puts the directory back afterwards. */
async function racing(body: () => Promise<void>): Promise<void> {
  const swapper: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL('../support/path-swapper.js', import.meta.url)), dir, swapName], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(swapper.stdout as NodeJS.ReadableStream, 'data');
  try {
    await body();
  } finally {
    swapper.kill('SIGTERM');
    if (swapper.exitCode === null) await once(swapper, 'exit');
    if ((await lstat(dir)).isSymbolicLink()) renameat2(AT_FDCWD, dir, AT_FDCWD, swapName, RENAME.EXCHANGE);
  }
}

/** Calls `attempt` until the race time is up; counts what each call saw. */
async function loop(attempt: () => Promise<'inside' | 'outside'>): Promise<{ inside: number; outside: number; refused: Map<string, number> }> {
  const seen = { inside: 0, outside: 0, refused: new Map<string, number>() };
  const until = Date.now() + RACE_MS;
  while (Date.now() < until) {
    try {
      seen[await attempt()] += 1;
    } catch (err) {
      const code = grpc.status[(err as grpc.ServiceError).code] ?? String(err);
      seen.refused.set(code, (seen.refused.get(code) ?? 0) + 1);
    }
  }
  return seen;
}

test('reads: a directory swapped for a symlink between resolution and open never leads ReadRanges or StatImage outside', async () => {
  const path = join(dir, 'disk.raw');
  let reads!: Awaited<ReturnType<typeof loop>>;
  let stats!: Awaited<ReturnType<typeof loop>>;
  await racing(async () => {
    reads = await loop(async () => {
      const messages = await collect<ReadRangesResponse__Output>(h.client.ReadRanges({ path }));
      const bytes = Buffer.concat(messages.flatMap((m) => (m.data ? [m.data.data] : [])));
      return bytes.equals(OUTSIDE) ? 'outside' : (assert.deepEqual(bytes, INSIDE), 'inside');
    });
    stats = await loop(async () => {
      const res = await call<StatImageResponse__Output>((cb) => h.client.StatImage({ path }, cb));
      return res.fileSize === OUTSIDE.length ? 'outside' : (assert.equal(res.fileSize, INSIDE.length), 'inside');
    });
  });
  console.log('ReadRanges', reads, 'StatImage', stats);
  assert.equal(reads.outside, 0, 'ReadRanges read the file outside the roots');
  assert.equal(stats.outside, 0, 'StatImage described the file outside the roots');
  assert.ok(reads.inside > 0 && stats.inside > 0, 'some calls got through between swaps');
  for (const code of [...reads.refused.keys(), ...stats.refused.keys()]) assert.ok(['PERMISSION_DENIED', 'ABORTED', 'NOT_FOUND'].includes(code), `refused with ${code}`);
});

test('writes: WriteRanges and CommitStaging through a swapped directory never create or replace a file outside', async () => {
  const data = randomBytes(4096);
  let n = 0;
  let writes!: Awaited<ReturnType<typeof loop>>;
  await racing(async () => {
    writes = await loop(async () => {
      n += 1;
      const targetPath = join(dir, n % 2 === 0 ? 'disk.raw' : `new-${n}.raw`);
      const res = await writeAll(h.writer, [{ open: { targetPath, size: data.length } }, { data: { offset: 0, data, hash: chunkHash(data) } }]);
      await call((cb) => h.client.CommitStaging({ targetPath, stagingId: res.stagingId, replace: true }, cb));
      return 'inside';
    });
  });
  console.log('WriteRanges + CommitStaging', writes);
  assert.deepEqual(
    (await readdir(join(h.outside, 'vm'))).filter((n) => n.endsWith('.kvmclone-staging') || n.startsWith('new-')),
    [],
    'nothing was created outside the roots',
  );
  assert.deepEqual(await readFile(join(h.outside, 'vm', 'disk.raw')), OUTSIDE, 'the file outside was not replaced');
  assert.ok((await stat(join(h.outside, 'vm'))).isDirectory());
  assert.ok(writes.inside > 0, 'some writes got through between swaps');
});

test('journal recovery through a swapped directory never applies, or removes, a journal outside the roots', async () => {
  // Outside: an image and a committed journal for it, as if the root's directory were there.
  const outsideImage = join(h.outside, 'vm', 'journaled.raw');
  await writeFile(outsideImage, OUTSIDE);
  const st = await stat(outsideImage, { bigint: true });
  const writer = await JournalWriter.create(journalPathFor(outsideImage), outsideImage);
  await writer.begin({ dev: st.dev, ino: st.ino, size: OUTSIDE.length });
  const data = Buffer.alloc(1024, 'X');
  await writer.addData(0, data, chunkHash(data));
  await writer.commit();
  await writer.close();
  await writeFile(join(dir, 'journaled.raw'), INSIDE);
  const roots = await ImageRoots.open([h.root]);
  const log = pino({ level: 'silent' });
  const outcomes = new Map<string, number>();
  await racing(async () => {
    const until = Date.now() + RACE_MS;
    while (Date.now() < until) {
      const outcome = await recoverJournal(join(dir, 'journaled.raw'), log, { roots }).then(
        (r) => r.outcome,
        (err: unknown) => (err instanceof Error ? err.name : String(err)),
      );
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  });
  console.log('recoverJournal', outcomes);
  assert.deepEqual(await readFile(outsideImage), OUTSIDE, 'the image outside the roots was not written');
  assert.ok((await stat(journalPathFor(outsideImage))).isFile(), 'the journal outside the roots was not removed');
  assert.deepEqual(await readFile(join(dir, 'journaled.raw')), INSIDE);
});
