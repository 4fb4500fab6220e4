/**
 * Restore points between two real agent processes (agent-processes.ts) for
 * the restore-points-*.test.ts files: in-place pulls from A's image into B's
 * copy of the same name (through the pair's PeerBroker), RestorePoint and
 * ListRestorePoints on B, the source's state (sha256 and digest) and three
 * syncs of known changes that keep three points.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unaryCall } from '../../../shared/agent-clients.js';
import type { ByteRange } from '../../../shared/generated/kvmclone/agent/v1/ByteRange.js';
import type { PullProgress__Output } from '../../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { RestorePointProgress__Output } from '../../../shared/generated/kvmclone/agent/v1/RestorePointProgress.js';
import { pullRequest } from './agent-pair.js';
import type { AgentProcessPair } from './agent-processes.js';
import { run, sha256 } from './image-files.js';
import { streamEvents } from '../../support/stream-events.js';

export const T = { deadlineMs: 60_000 };
export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Runs an in-place pull of A's `name` into B's `name`; `onEvent` sees each message as it comes. */
export async function pull(
  agents: AgentProcessPair,
  name: string,
  ranges: ByteRange[],
  extra: object,
  onEvent?: (e: PullProgress__Output) => void,
): Promise<PullProgress__Output[]> {
  const peer = await agents.peers.broker(join(agents.imagesA, name));
  const request = pullRequest(peer, join(agents.imagesA, name), join(agents.imagesB, name), { ranges, mode: 'PULL_MODE_IN_PLACE' as const, ...extra });
  return streamEvents(agents.b.transfer.pullImage(request, { deadline: Date.now() + 120_000 }), onEvent);
}

/** Runs RestorePoint on B; `onEvent` sees each message. */
export function restore(agents: AgentProcessPair, name: string, pointId: string, onEvent?: (e: RestorePointProgress__Output) => void): Promise<RestorePointProgress__Output[]> {
  const call = agents.b.transfer.restorePoint({ targetPath: join(agents.imagesB, name), pointId, destVm: '', operationId: randomUUID() }, { deadline: Date.now() + 120_000 });
  return streamEvents(call, onEvent);
}

export async function points(agents: AgentProcessPair, name: string): Promise<{ id: string; digest: string; sizeBytes: number; imageSize: number; label: string }[]> {
  const res = await unaryCall(agents.b.transfer, agents.b.transfer.listRestorePoints, { targetPath: join(agents.imagesB, name) }, T);
  return res.points.map((p) => ({ id: p.id, digest: p.digest, sizeBytes: Number(p.sizeBytes), imageSize: Number(p.imageSize), label: p.label }));
}

async function sourceDigest(agents: AgentProcessPair, name: string): Promise<string> {
  return (await unaryCall(agents.a.disk, agents.a.disk.digestImage, { path: join(agents.imagesA, name) }, T)).digest;
}

/** Writes random bytes into A's `name` at each [offset, length] (resized to `size` first, if given); returns the ranges to pull. */
export async function change(agents: AgentProcessPair, name: string, spans: [number, number][], size?: number): Promise<ByteRange[]> {
  const fh = await open(join(agents.imagesA, name), 'r+');
  if (size !== undefined) await fh.truncate(size);
  for (const [offset, length] of spans) await fh.write(randomBytes(length), 0, length, offset);
  await fh.close();
  return spans.map(([offset, length]) => ({ offset, length }));
}

/** A new image at A (random data) and its copy at B. */
export async function twin(agents: AgentProcessPair, name: string, size: number): Promise<void> {
  await writeFile(join(agents.imagesA, name), randomBytes(size));
  await run('cp', ['--sparse=always', join(agents.imagesA, name), join(agents.imagesB, name)]);
}

/** The state of A's `name` now: sha256 and digest. */
export async function sourceState(agents: AgentProcessPair, name: string): Promise<{ sha: string; digest: string }> {
  return { sha: await sha256(join(agents.imagesA, name)), digest: await sourceDigest(agents, name) };
}

/** Three syncs of known changes with keep 3 (one grows the image, one shrinks it); the source's states before each. */
export async function threeSyncs(agents: AgentProcessPair, name: string): Promise<{ sha: string; digest: string }[]> {
  await twin(agents, name, 8 * MiB);
  const states = [await sourceState(agents, name)];
  const changes: [[number, number][], number | undefined][] = [
    [
      [
        [0, 64 * KiB],
        [3 * MiB, 200 * KiB],
      ],
      undefined,
    ],
    [
      [
        [5 * MiB, MiB],
        [9 * MiB, 512 * KiB],
      ],
      10 * MiB,
    ],
    [[[64 * KiB, 64 * KiB]], 6 * MiB],
  ];
  for (const [i, [spans, size]] of changes.entries()) {
    let ranges = await change(agents, name, spans, size);
    // A resize comes with the changed tail: a grown tail is pulled, a shrink needs no range.
    if (size !== undefined && size > 8 * MiB) ranges = [...ranges.filter((r) => Number(r.offset) + Number(r.length) <= 8 * MiB), { offset: 8 * MiB, length: size - 8 * MiB }];
    if (size !== undefined && size < 8 * MiB) ranges = ranges.filter((r) => Number(r.offset) < size);
    const events = await pull(agents, name, ranges, { keepPoints: 3, pointLabel: `sync ${i + 1}` });
    const last = events.at(-1);
    assert.ok(last?.done);
    assert.match(last.pointId, /^[0-9]+$/, 'the final message names the point kept');
    await run('cmp', [join(agents.imagesA, name), join(agents.imagesB, name)]);
    states.push(await sourceState(agents, name));
  }
  return states;
}
