/**
 * GUEST-layer pulls with real qemu-img and qemu-nbd on two in-process agents
 * (a raw file stands in for the source's live view): into a sparse raw
 * staging file, a resumed qcow2 staging image, an in-place sync of a raw
 * image through qemu-nbd, and a cancelled pull that keeps its staging image
 * and leaves no qemu-nbd behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { unaryCall } from '../../shared/agent-clients.js';
import type { PullProgress__Output } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { change, makeRaw, nbdSockets, qemuInfo, run, sameGuestContent } from './support/image-files.js';
import { digestOf, guestRequest, KiB, MiB, pull, randomBlocks, T, useGuestLayerAgents } from './support/guest-layer-fixture.js';

const agents = useGuestLayerAgents();

test('a GUEST pull with format raw creates a sparse raw staging file', async () => {
  const src = join(agents.imagesA, 'vm.raw');
  const target = join(agents.imagesB, 'vm-copy.raw');
  const last = (await pull(agents, await guestRequest(agents, src, target, { format: 'raw' }))).at(-1);
  assert.ok(last?.done);
  await run('cmp', [src, last.stagingPath]);
  assert.ok((await stat(last.stagingPath)).blocks * 512 < 16 * MiB, 'sparse');
  assert.equal(last.digest, (await digestOf(agents.a, src)).digest);
  await unaryCall(agents.b.disk, agents.b.disk.abortStaging, { targetPath: target, stagingId: last.stagingId }, T);
});

test('a resumed GUEST pull writes its ranges, zero ranges included, into the staging image and digests it by reading back', async () => {
  const src = join(agents.imagesA, 'resume.raw');
  await makeRaw(src, 16 * MiB, [[0, 12 * MiB]]);
  const target = join(agents.imagesB, 'resume.qcow2');
  const first = (await pull(agents, await guestRequest(agents, src, target))).at(-1);
  assert.ok(first?.done);
  const ranges = [...(await change(src, randomBlocks(12, 8 * MiB))), ...(await change(src, [[8 * MiB, 2 * MiB]], true))];
  const events = await pull(agents, await guestRequest(agents, src, target, { stagingId: first.stagingId, ranges }));
  const last = events.at(-1);
  assert.ok(last?.done);
  assert.equal(last.stagingId, first.stagingId);
  assert.equal(last.bytesTotal, 12 * 64 * KiB + 2 * MiB);
  assert.equal(last.bytesTransferred, 12 * 64 * KiB, 'the zeroed range is not sent');
  await sameGuestContent(src, last.stagingPath, 'qcow2');
  assert.equal(last.digest, (await digestOf(agents.a, src)).digest);
  // A resume that declares another format or size is refused, and the staging image kept.
  await rejectsWithStatus(pull(agents, await guestRequest(agents, src, target, { stagingId: first.stagingId, format: 'raw', ranges })), 'FAILED_PRECONDITION');
  await truncate(src, 32 * MiB);
  await rejectsWithStatus(pull(agents, await guestRequest(agents, src, target, { stagingId: first.stagingId, ranges })), 'FAILED_PRECONDITION');
  await stat(last.stagingPath);
  await unaryCall(agents.b.disk, agents.b.disk.abortStaging, { targetPath: target, stagingId: first.stagingId }, T);
});

test('an IN_PLACE GUEST sync of a raw image goes through qemu-nbd too and ends byte-identical', async () => {
  const src = join(agents.imagesA, 'plain.raw');
  const target = join(agents.imagesB, 'plain.raw');
  await makeRaw(src, 8 * MiB, [[0, 6 * MiB]]);
  await run('cp', ['--sparse=always', src, target]);
  const ranges = [...(await change(src, randomBlocks(6, 4 * MiB))), ...(await change(src, [[4 * MiB, MiB]], true))];
  await truncate(src, 10 * MiB);
  ranges.push(...(await change(src, [[9 * MiB, 64 * KiB]])), { offset: 8 * MiB, length: MiB });
  const last = (await pull(agents, await guestRequest(agents, src, target, { mode: 'PULL_MODE_IN_PLACE', format: 'raw', ranges }))).at(-1);
  assert.ok(last?.done);
  await run('cmp', [src, target]);
  assert.equal(last.digest, (await digestOf(agents.a, src)).digest);
});

/** qemu-nbd processes this test process started that are still running. */
async function qemuNbdChildren(): Promise<string[]> {
  const out = await run('pgrep', ['-P', String(process.pid), 'qemu-nbd']).catch(() => ({ stdout: '' }));
  return out.stdout.split('\n').filter(Boolean);
}

test('a cancelled GUEST pull keeps its announced staging image and leaves no qemu-nbd behind', async () => {
  const src = join(agents.imagesA, 'big.raw');
  await makeRaw(src, 96 * MiB, [[0, 96 * MiB]]);
  const target = join(agents.imagesB, 'big.qcow2');
  const call = agents.b.transfer.pullImage(await guestRequest(agents, src, target), { deadline: Date.now() + 120_000 });
  const events: PullProgress__Output[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    call.on('data', (e: PullProgress__Output) => {
      events.push(e);
      if (e.bytesDone > 0) call.cancel();
    });
    call.on('error', reject);
    call.on('end', resolve);
  });
  await rejectsWithStatus(ended, 'CANCELLED');
  const staging = events[0]?.stagingPath ?? '';
  assert.notEqual(staging, '');
  for (let i = 0; i < 100 && ((await nbdSockets(agents.runB)).length > 0 || (await qemuNbdChildren()).length > 0); i += 1) await sleep(50);
  assert.deepEqual(await nbdSockets(agents.runB), [], 'the qemu-nbd socket is gone');
  assert.deepEqual(await qemuNbdChildren(), [], 'qemu-nbd stopped');
  assert.equal((await qemuInfo(staging)).format, 'qcow2', 'the announced staging image is kept for a resume');
  await unaryCall(agents.b.disk, agents.b.disk.abortStaging, { targetPath: target, stagingId: events[0]?.stagingId }, T);
});
