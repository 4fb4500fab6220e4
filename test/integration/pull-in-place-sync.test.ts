/**
 * In-place pulls (PULL_MODE_IN_PLACE) between two real agent processes, the
 * source's peer socket re-exposed in the destination's runtime directory by a
 * byte proxy that the tests can stall: the sync itself (changed blocks,
 * zeroed regions becoming holes, growth, a resize alone) and the lock that
 * refuses a second pull into the same image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { unaryCall } from '../../shared/agent-clients.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { useAgentProcesses } from './support/agent-processes.js';
import { gone, makeRaw, run } from './support/image-files.js';
import { clonedToB, extentKinds, inPlace, MiB, startPull } from './support/in-place-pulls.js';

const T = { deadlineMs: 30_000 };
const KiB = 1024;
const agents = useAgentProcesses('kvmclone-inplace-');

test('a sync moves changed blocks, turns a zeroed region into holes, grows the image, and ends byte-identical with the source digest', async () => {
  const name = 'sync.raw';
  const { source, target } = await clonedToB(agents, name, 32 * MiB, [[0, 24 * MiB]]);
  // At the source: 40 random 64 KiB blocks rewritten, 2 MiB zeroed, 4 MiB appended (1 MiB of it data).
  const blocks = new Set<number>();
  while (blocks.size < 40) {
    const block = Math.floor(Math.random() * 384);
    if (block < 128 || block >= 160) blocks.add(block);
  }
  const fh = await open(source, 'r+');
  for (const block of blocks) await fh.write(randomBytes(64 * KiB), 0, 64 * KiB, block * 64 * KiB);
  await fh.write(Buffer.alloc(2 * MiB), 0, 2 * MiB, 8 * MiB);
  await fh.truncate(36 * MiB);
  await fh.write(randomBytes(MiB), 0, MiB, 33 * MiB);
  await fh.close();
  assert.deepEqual(await extentKinds(target, 8 * MiB, 10 * MiB), ['data'], 'the destination holds data where the source was zeroed');
  const ranges = [...[...blocks].map((block) => ({ offset: block * 64 * KiB, length: 64 * KiB })), { offset: 8 * MiB, length: 2 * MiB }, { offset: 32 * MiB, length: 4 * MiB }];
  const { request } = await inPlace(agents, name, ranges);
  const events = await startPull(agents, request).ended;

  const last = events.at(-1);
  assert.ok(last?.done, 'the last event is the final one');
  assert.equal(last.bytesTotal, 40 * 64 * KiB + 6 * MiB);
  assert.equal(last.bytesDone, last.bytesTotal);
  assert.equal(last.bytesTransferred, 40 * 64 * KiB + MiB, 'zeros and holes are not sent');
  assert.deepEqual([...new Set(events.map((e) => e.phase))], ['transfer', 'apply'], 'transfer, then apply');
  assert.equal(events.filter((e) => e.phase === 'apply' && !e.done).length, 1, 'one apply notice before the final message');
  await run('cmp', [source, target]);
  assert.equal((await stat(target)).size, 36 * MiB);
  assert.deepEqual(await extentKinds(target, 8 * MiB, 10 * MiB), ['hole'], 'the zeroed region became a hole');
  assert.deepEqual(await extentKinds(target, 32 * MiB, 33 * MiB), ['hole'], 'the grown region is sparse where the source has no data');
  const digestA = await unaryCall(agents.a.disk, agents.a.disk.digestImage, { path: source }, T);
  assert.equal(last.digest, digestA.digest);
  assert.ok(await gone(journalPathFor(target)), 'the journal is removed');
});

test('empty ranges only resize the image: grown with holes, then shrunk', async () => {
  const name = 'resize.raw';
  const { source, target } = await clonedToB(agents, name, 4 * MiB, [[0, 4 * MiB]]);
  for (const size of [6 * MiB, 3 * MiB]) {
    await truncate(source, size);
    const { request } = await inPlace(agents, name, []);
    const last = (await startPull(agents, request).ended).at(-1);
    assert.ok(last?.done);
    assert.equal(last.bytesTotal, 0);
    assert.equal((await stat(target)).size, size);
    await run('cmp', [source, target]);
    assert.equal(last.digest, (await unaryCall(agents.a.disk, agents.a.disk.digestImage, { path: source }, T)).digest);
  }
});

test('a second pull into the same image while one runs is ABORTED; the first still completes', async () => {
  const name = 'busy.raw';
  await makeRaw(join(agents.imagesA, name), 64 * MiB, [[0, 64 * MiB]]);
  await makeRaw(join(agents.imagesB, name), 64 * MiB, [[0, 64 * MiB]]);
  const first = await inPlace(agents, name, [{ offset: 0, length: 64 * MiB }]);
  const pull = startPull(agents, first.request);
  await pull.waitFor((e) => e.phase === 'transfer');
  first.gate.pause();
  const second = await inPlace(agents, name, [{ offset: 0, length: MiB }]);
  const details = await rejectsWithStatus(startPull(agents, second.request).ended, 'ABORTED');
  assert.match(details, /another pull into .*busy\.raw is running/);
  first.gate.resume();
  assert.ok((await pull.ended).at(-1)?.done);
  await run('cmp', [join(agents.imagesA, name), join(agents.imagesB, name)]);
});
