/**
 * The guest layer with real qemu-img and qemu-nbd on two in-process agents
 * (in-process-agents.ts), for the guest-layer-*.test.ts files: A's vm.raw as
 * the source's live view (a raw file's FILE layer is its guest view, byte
 * for byte), GUEST-layer pull requests and their events, block hashes and
 * digests of either layer, and the qemu-nbd sockets left in a runtime dir.
 */
import { join } from 'node:path';
import { unaryCall, type AgentClients } from '../../../shared/agent-clients.js';
import type { ExtentLayer } from '../../../shared/generated/kvmclone/agent/v1/ExtentLayer.js';
import type { HashBlocksResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/HashBlocksResponse.js';
import type { PullProgress__Output } from '../../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import { pullRequest } from './agent-pair.js';
import { makeRaw } from './image-files.js';
import { useInProcessAgents, type InProcessAgentPair } from './in-process-agents.js';
import { streamEvents } from '../../support/stream-events.js';

export const T = { deadlineMs: 60_000 };
export const KiB = 1024;
export const MiB = 1024 * KiB;

/** The two agents for the calling test file, with the source "view" A's vm.raw: 40 MiB with scattered data, one allocated zero MiB, holes elsewhere. */
export function useGuestLayerAgents(): InProcessAgentPair {
  return useInProcessAgents('kvmclone-guest-', async (agents) => {
    await makeRaw(
      join(agents.imagesA, 'vm.raw'),
      40 * MiB,
      [
        [0, 3 * MiB],
        [5 * MiB + 4 * KiB, 700 * KiB],
        [12 * MiB, 6 * MiB],
        [30 * MiB, 64 * KiB],
        [39 * MiB, MiB],
      ],
      [[20 * MiB, MiB]],
    );
  });
}

/** PullImage on B; resolves with all its events. */
export function pull(agents: InProcessAgentPair, request: object): Promise<PullProgress__Output[]> {
  return streamEvents(agents.b.transfer.pullImage(request, { deadline: Date.now() + 120_000 }));
}

/** A GUEST-layer PullImage request from A's `source` into B's `target`. */
export async function guestRequest(agents: InProcessAgentPair, source: string, target: string, extra: object = {}): Promise<object> {
  return pullRequest(await agents.broker(source), source, target, { ranges: [], mode: 'PULL_MODE_STAGING', layer: 'EXTENT_LAYER_GUEST', format: 'qcow2', ...extra });
}

/** All block hashes of HashBlocks. */
export async function hashes(
  clients: AgentClients,
  path: string,
  layer: ExtentLayer,
  plan: { blockSize?: number; offset?: number; length?: number } = {},
): Promise<{ hashes: Buffer; size: number }> {
  const parts: Buffer[] = [];
  let size = -1;
  const stream = clients.disk.hashBlocks(
    { path, layer, blockSize: plan.blockSize ?? 0, offset: plan.offset ?? 0, length: plan.length ?? 0, batchBlocks: 100 },
    { deadline: Date.now() + 60_000 },
  );
  for await (const m of stream as AsyncIterable<HashBlocksResponse__Output>) {
    parts.push(m.hashes);
    size = m.fileSize;
  }
  return { hashes: Buffer.concat(parts), size };
}

export const digestOf = async (clients: AgentClients, path: string, layer: ExtentLayer = 'EXTENT_LAYER_FILE'): Promise<{ size: number; digest: string }> =>
  unaryCall(clients.disk, clients.disk.digestImage, { path, layer }, T);

/** Random 64 KiB blocks below `limit`, avoiding [avoidFrom, avoidTo). */
export function randomBlocks(count: number, limit: number, avoid: [number, number] = [0, 0]): [number, number][] {
  const blocks = new Set<number>();
  while (blocks.size < count) {
    const block = Math.floor(Math.random() * (limit / (64 * KiB)));
    if (block * 64 * KiB + 64 * KiB <= avoid[0] || block * 64 * KiB >= avoid[1]) blocks.add(block);
  }
  return [...blocks].map((block) => [block * 64 * KiB, 64 * KiB]);
}
