/**
 * Restore points of GUEST-layer (live) in-place pulls on two in-process
 * agents (in-process-agents.ts), for the live-restore-points-*.test.ts
 * files: in-place pulls from A into B (GUEST layer unless told otherwise),
 * RestorePoint and ListRestorePoints on B, digests, the source's state
 * (digest and a copy for qemu-img compare), the layer a point was kept in,
 * and three live syncs that keep three points.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFile, open, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { unaryCall, type AgentClients } from '../../../shared/agent-clients.js';
import type { ExtentLayer } from '../../../shared/generated/kvmclone/agent/v1/ExtentLayer.js';
import type { PullProgress__Output } from '../../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { RestorePointProgress__Output } from '../../../shared/generated/kvmclone/agent/v1/RestorePointProgress.js';
import { decodeHeader, HEADER_BYTES } from '../../../agent/transfer/journal-format.js';
import { listPointFiles } from '../../../agent/transfer/restore-point-files.js';
import { pullRequest } from './agent-pair.js';
import { change, makeRaw, qemuInfo, run, type Span } from './image-files.js';
import type { InProcessAgentPair } from './in-process-agents.js';
import { streamEvents } from '../../support/stream-events.js';

export const T = { deadlineMs: 60_000 };
export const KiB = 1024;
export const MiB = 1024 * KiB;

/** An in-place pull of A's `source` into B's `target`: GUEST layer unless `extra` says otherwise. */
export async function pull(agents: InProcessAgentPair, source: string, target: string, ranges: Span[], extra: object): Promise<PullProgress__Output> {
  const request = pullRequest(await agents.broker(source), source, target, { ranges, mode: 'PULL_MODE_IN_PLACE', layer: 'EXTENT_LAYER_GUEST', ...extra });
  const events = await streamEvents(agents.b.transfer.pullImage(request, { deadline: Date.now() + 120_000 }));
  const last = events.at(-1);
  assert.ok(last?.done, 'the pull ends with its final message');
  return last;
}

/** RestorePoint on B; resolves with the final message. */
export function restore(agents: InProcessAgentPair, target: string, pointId: string): Promise<RestorePointProgress__Output> {
  const call = agents.b.transfer.restorePoint({ targetPath: target, pointId, destVm: '', operationId: randomUUID() }, { deadline: Date.now() + 120_000 });
  return new Promise((resolve, reject) => {
    let last: RestorePointProgress__Output | undefined;
    call.on('data', (e: RestorePointProgress__Output) => (last = e));
    call.on('error', reject);
    call.on('end', () => (last?.done ? resolve(last) : reject(new Error('the restore ended without its final message'))));
  });
}

export async function points(agents: InProcessAgentPair, target: string): Promise<{ id: string; digest: string; sizeBytes: number; imageSize: number }[]> {
  const res = await unaryCall(agents.b.transfer, agents.b.transfer.listRestorePoints, { targetPath: target }, T);
  return res.points.map((p) => ({ id: p.id, digest: p.digest, sizeBytes: Number(p.sizeBytes), imageSize: Number(p.imageSize) }));
}

export const digestOf = async (clients: AgentClients, path: string, layer: ExtentLayer = 'EXTENT_LAYER_FILE'): Promise<string> =>
  (await unaryCall(clients.disk, clients.disk.digestImage, { path, layer }, T)).digest;

/** The source's state: its digest (a raw file: the guest view's) and a copy of its bytes, for qemu-img compare. */
export async function snapshot(agents: InProcessAgentPair, src: string, tag: string): Promise<{ digest: string; copy: string }> {
  const copy = join(agents.dir, `${tag}.raw`);
  await copyFile(src, copy);
  return { digest: await digestOf(agents.a, src), copy };
}

/** The journal layer written in the header of point `id` of `target`. */
export async function pointLayer(target: string, id: string): Promise<string> {
  const point = (await listPointFiles(target)).find((p) => String(p.id) === id);
  assert.ok(point, `point ${id} is beside ${target}`);
  const fh = await open(point.path, 'r');
  try {
    const head = Buffer.alloc(HEADER_BYTES);
    await fh.read(head, 0, HEADER_BYTES, 0);
    return decodeHeader(head).layer ?? 'file';
  } finally {
    await fh.close();
  }
}

/**
 * Three live syncs with keep 3 into B's `target` (of `format`): changed blocks, a zeroed region, growth, then a
 * shrink — the second one checked by changed blocks (digest_ranges) like a bitmap delta. Returns the source's state
 * before each sync and the points, newest first.
 */
export async function threeLiveSyncs(
  agents: InProcessAgentPair,
  name: string,
  format: 'qcow2' | 'raw',
): Promise<{ src: string; target: string; states: { digest: string; copy: string }[] }> {
  const src = join(agents.imagesA, `${name}.raw`);
  const target = join(agents.imagesB, `${name}.${format}`);
  await makeRaw(src, 16 * MiB, [
    [0, 2 * MiB],
    [5 * MiB, 3 * MiB],
    [12 * MiB, MiB],
  ]);
  await run('qemu-img', ['convert', '-f', 'raw', '-O', format, src, target]);
  const states = [await snapshot(agents, src, `${name}-0`)];
  // 1: scattered blocks and a zeroed MiB where there was data.
  let ranges = [
    ...(await change(src, [
      [64 * KiB, 64 * KiB],
      [5 * MiB, 256 * KiB],
      [9 * MiB, 128 * KiB],
    ])),
    ...(await change(src, [[12 * MiB, MiB]], true)),
  ];
  let last = await pull(agents, src, target, ranges, { format, keepPoints: 3, pointLabel: 'live 1' });
  assert.equal(last.digest, await digestOf(agents.a, src));
  states.push(await snapshot(agents, src, `${name}-1`));
  // 2: growth to 20 MiB with data in the new tail, verified by changed blocks only.
  await truncate(src, 20 * MiB);
  ranges = [
    ...(await change(src, [
      [MiB, 64 * KiB],
      [18 * MiB, 512 * KiB],
    ])),
    { offset: 16 * MiB, length: 2 * MiB },
    { offset: 18 * MiB + 512 * KiB, length: 1536 * KiB },
  ];
  ranges.sort((x, y) => x.offset - y.offset);
  last = await pull(agents, src, target, ranges, { format, keepPoints: 3, pointLabel: 'live 2', digestRanges: true });
  assert.match(last.digest, /^blake3-ranges:/, 'a changed-block check');
  states.push(await snapshot(agents, src, `${name}-2`));
  // 3: a shrink to 10 MiB that cuts data off, and one changed block.
  await truncate(src, 10 * MiB);
  ranges = await change(src, [[5 * MiB + 64 * KiB, 64 * KiB]]);
  last = await pull(agents, src, target, ranges, { format, keepPoints: 3, pointLabel: 'live 3' });
  assert.equal(last.digest, await digestOf(agents.a, src));
  assert.equal((await qemuInfo(target))['virtual-size'], 10 * MiB);
  return { src, target, states };
}
