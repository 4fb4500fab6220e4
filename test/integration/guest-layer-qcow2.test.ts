/**
 * A qcow2 copy through the guest layer with real qemu-img and qemu-nbd on two
 * in-process agents (the source's peer socket re-exposed in the
 * destination's runtime directory by a byte proxy; a raw file stands in for
 * the source's live view): a GUEST pull creates it, an in-place sync changes
 * it through its format (grown, shrunk), a committed guest journal is rolled
 * forward by recovery and by an agent's start, and the refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { unaryCall } from '../../shared/agent-clients.js';
import { chunkHash } from '../../shared/block-hash.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { recoverAllJournals } from '../../agent/transfer/journal-recovery.js';
import { JournalWriter } from '../../agent/transfer/journal-writer.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { spawnAgent, waitForSocket } from '../support/agent-process.js';
import { change, nbdSockets, qemuInfo, sameGuestContent, type Span } from './support/image-files.js';
import { log } from './support/in-process-agents.js';
import { digestOf, guestRequest, KiB, MiB, pull, randomBlocks, T, useGuestLayerAgents } from './support/guest-layer-fixture.js';

const agents = useGuestLayerAgents();

test("a GUEST pull creates a qcow2 staging image with the view's guest content and digest; committed, it stays a qcow2", async () => {
  const src = join(agents.imagesA, 'vm.raw');
  const target = join(agents.imagesB, 'vm.qcow2');
  const events = await pull(agents, await guestRequest(agents, src, target));
  const first = events[0];
  const last = events.at(-1);
  assert.ok(first !== undefined && first.stagingId !== '' && !first.done, 'the staging image is announced first');
  assert.ok(last?.done);
  assert.equal(last.stagingPath, first.stagingPath);
  assert.equal(last.bytesTotal, 40 * MiB);
  assert.equal(last.bytesDone, 40 * MiB);
  assert.ok(last.bytesTransferred <= 10 * MiB + 768 * KiB, `holes and zeros are not sent (${last.bytesTransferred})`);
  const info = await qemuInfo(last.stagingPath);
  assert.equal(info.format, 'qcow2');
  assert.equal(info['format-specific']?.data?.compat, '1.1');
  assert.equal(info['virtual-size'], 40 * MiB);
  await sameGuestContent(src, last.stagingPath, 'qcow2');
  const sourceDigest = await digestOf(agents.a, src);
  assert.equal(last.digest, sourceDigest.digest);
  await unaryCall(agents.b.disk, agents.b.disk.commitStaging, { targetPath: target, stagingId: last.stagingId, replace: false }, T);
  assert.equal((await qemuInfo(target)).format, 'qcow2');
  assert.deepEqual(await digestOf(agents.b, target, 'EXTENT_LAYER_GUEST'), sourceDigest);
  assert.deepEqual(await nbdSockets(agents.runB), []);
});

test('an IN_PLACE GUEST sync changes a qcow2 through its format: changed blocks, a zeroed region, growth, then a shrink', async () => {
  const src = join(agents.imagesA, 'vm.raw');
  const target = join(agents.imagesB, 'vm.qcow2');
  const ranges = [...(await change(src, randomBlocks(30, 40 * MiB, [8 * MiB, 16 * MiB]))), ...(await change(src, [[12 * MiB, 2 * MiB]], true))];
  await truncate(src, 44 * MiB);
  ranges.push(...(await change(src, [[41 * MiB, MiB]])), { offset: 40 * MiB, length: MiB }, { offset: 42 * MiB, length: 2 * MiB });
  const events = await pull(agents, await guestRequest(agents, src, target, { mode: 'PULL_MODE_IN_PLACE', ranges }));
  const last = events.at(-1);
  assert.ok(last?.done);
  assert.deepEqual([...new Set(events.map((e) => e.phase))], ['transfer', 'apply']);
  assert.equal(last.bytesTransferred, 30 * 64 * KiB + MiB, 'the changed blocks and the new data, no zeros');
  assert.equal(last.digest, (await digestOf(agents.a, src)).digest);
  const info = await qemuInfo(target);
  assert.equal(info.format, 'qcow2', 'still a qcow2');
  assert.equal(info['virtual-size'], 44 * MiB, 'grown');
  await sameGuestContent(src, target, 'qcow2');
  await stat(journalPathFor(target)).then(
    () => assert.fail('the journal is removed'),
    () => undefined,
  );
  // Shrink: no ranges, only the size.
  await truncate(src, 36 * MiB);
  const shrunk = (await pull(agents, await guestRequest(agents, src, target, { mode: 'PULL_MODE_IN_PLACE', ranges: [] }))).at(-1);
  assert.ok(shrunk?.done);
  assert.equal((await qemuInfo(target))['virtual-size'], 36 * MiB);
  await sameGuestContent(src, target, 'qcow2');
  assert.equal(shrunk.digest, (await digestOf(agents.a, src)).digest);
  assert.deepEqual(await nbdSockets(agents.runB), []);
});

/** Leaves a committed guest-qcow2 journal beside `target` that brings it to `src` (its changed `ranges` and size), as a pull killed after its commit would. */
async function leaveGuestJournal(src: string, target: string, ranges: Span[]): Promise<void> {
  const st = await stat(target, { bigint: true });
  const writer = await JournalWriter.create(journalPathFor(target), target);
  const bytes = await readFile(src);
  await writer.begin({ dev: st.dev, ino: st.ino, size: bytes.length, layer: 'guest-qcow2' });
  for (const r of ranges) {
    const data = bytes.subarray(r.offset, r.offset + r.length);
    if (data.equals(Buffer.alloc(data.length))) await writer.addZero(r.offset, data.length);
    else await writer.addData(r.offset, Buffer.from(data), chunkHash(data));
  }
  await writer.commit();
  await writer.close();
}

test('a committed guest journal left by a crash is rolled forward through qemu-nbd by recovery, and by an agent at its start', async () => {
  const src = join(agents.imagesA, 'vm.raw');
  const target = join(agents.imagesB, 'vm.qcow2');
  await sameGuestContent(src, target, 'qcow2');
  let ranges = [...(await change(src, randomBlocks(8, 32 * MiB))), ...(await change(src, [[0, MiB]], true))];
  await truncate(src, 38 * MiB);
  await leaveGuestJournal(src, target, ranges);
  const counts = await recoverAllJournals(agents.rootsB, log, { runtimeDir: agents.runB });
  assert.equal(counts.replayed, 1);
  assert.equal((await qemuInfo(target))['virtual-size'], 38 * MiB);
  await sameGuestContent(src, target, 'qcow2');
  assert.equal((await digestOf(agents.b, target, 'EXTENT_LAYER_GUEST')).digest, (await digestOf(agents.a, src)).digest);

  // Once more, settled by a real agent process starting on the same root (its runtime dir does not exist yet).
  ranges = await change(src, randomBlocks(5, 38 * MiB));
  await leaveGuestJournal(src, target, ranges);
  const runtime = join(agents.dir, 'c', 'run');
  const agent = spawnAgent(['--socket', join(runtime, 'agent.sock'), '--images-root', agents.imagesB, '--libvirt-uri', 'test:///default']);
  try {
    await waitForSocket(agent, join(runtime, 'agent.sock'));
    for (let i = 0; i < 200 && !agent.output.some((l) => l.includes('agent ready')); i += 1) await sleep(50);
    const line = agent.output.find((l) => l.includes('sync journal rolled forward into the image'));
    assert.ok(line?.includes('guest-qcow2'), `the start rolled the guest journal forward:\n${agent.output.join('\n')}`);
  } finally {
    agent.child.kill('SIGTERM');
    await agent.exited;
  }
  await sameGuestContent(src, target, 'qcow2');
  assert.equal((await qemuInfo(target)).format, 'qcow2');
  await stat(journalPathFor(target)).then(
    () => assert.fail('the journal is removed'),
    () => undefined,
  );
});

test("GUEST pulls refuse a format other than qcow2 or raw, and an in-place format that is not the target's", async () => {
  const src = join(agents.imagesA, 'vm.raw');
  for (const format of ['vmdk', '', 'QCOW2']) {
    const details = await rejectsWithStatus(pull(agents, await guestRequest(agents, src, join(agents.imagesB, 'bad.qcow2'), { format })), 'INVALID_ARGUMENT');
    assert.match(details, /format/);
  }
  await rejectsWithStatus(
    pull(agents, await guestRequest(agents, src, join(agents.imagesB, 'vm.qcow2'), { format: 'vmdk', mode: 'PULL_MODE_IN_PLACE', ranges: [] })),
    'INVALID_ARGUMENT',
  );
  const details = await rejectsWithStatus(
    pull(agents, await guestRequest(agents, src, join(agents.imagesB, 'vm.qcow2'), { format: 'raw', mode: 'PULL_MODE_IN_PLACE', ranges: [] })),
    'FAILED_PRECONDITION',
  );
  assert.match(details, /is a qcow2 image/);
  assert.deepEqual(
    (await readdir(agents.imagesB)).filter((n) => n.includes('bad.qcow2') || n.endsWith('.kvmclone-journal')),
    [],
  );
});
