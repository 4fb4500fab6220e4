/**
 * What the fuzzer knows about the agent under test: its image roots, the
 * images and symlinks planted in them, the canary files outside them, a marker
 * every generated name carries (so an escape is found by name anywhere on the
 * host), and what earlier replies revealed (tickets, staging ids, domain
 * names) so later calls can go deeper than a first validation check.
 */
import type { Prng } from './prng.js';

/** Fixture paths and harvested values shared by the generators. */
export interface FuzzWorld {
  /** Image roots of the agent (absolute, resolved). */
  readonly roots: readonly string[];
  /** Images that exist under the roots (qcow2 and raw). */
  readonly images: readonly string[];
  /** Symlinks under the roots pointing outside them (single, chains, dangling, to dirs). */
  readonly links: readonly string[];
  /** Files and directories outside the roots that nothing may touch. */
  readonly canaries: readonly string[];
  /** Sockets of the agent (admin, peer, read-only when present). */
  readonly sockets: readonly string[];
  /** Appears in every name the fuzzer makes up. */
  readonly marker: string;
  /** Values seen in replies, by kind ("ticket", "stagingId", "path", "name", ...). */
  readonly harvested: Map<string, string[]>;
}

/** Most values kept per harvested kind (the oldest are dropped). */
const HARVEST_LIMIT = 64;

/** Remembers `value` under `kind` for later generators. */
export function harvest(world: FuzzWorld, kind: string, value: string): void {
  if (value === '' || value.length > 4096) return;
  const list = world.harvested.get(kind) ?? [];
  if (list.includes(value)) return;
  list.push(value);
  if (list.length > HARVEST_LIMIT) list.shift();
  world.harvested.set(kind, list);
}

/** A harvested value of `kind`, or undefined when none was seen yet. */
export function harvested(world: FuzzWorld, rng: Prng, kind: string): string | undefined {
  const list = world.harvested.get(kind);
  return list && list.length > 0 ? rng.pick(list) : undefined;
}

/** Keys of reply fields worth remembering, mapped to the kind they are filed under. */
const HARVEST_KEYS: Readonly<Record<string, string>> = {
  ticket: 'ticket',
  stagingId: 'stagingId',
  stagingPath: 'path',
  path: 'path',
  viewPath: 'path',
  sourcePath: 'path',
  peerSocket: 'socket',
  operationId: 'operationId',
  name: 'name',
  checkpoint: 'checkpoint',
  checkpointXml: 'xml',
  xml: 'xml',
  nvramPath: 'path',
  tpmStatePath: 'path',
};

/** Walks a decoded reply and harvests the values of HARVEST_KEYS. */
export function harvestReply(world: FuzzWorld, reply: unknown, depth = 0): void {
  if (depth > 6 || reply === null || typeof reply !== 'object') return;
  if (Array.isArray(reply)) {
    for (const item of reply.slice(0, 32)) harvestReply(world, item, depth + 1);
    return;
  }
  for (const [key, value] of Object.entries(reply)) {
    const kind = HARVEST_KEYS[key];
    if (kind !== undefined && typeof value === 'string') harvest(world, kind, value);
    else if (typeof value === 'object') harvestReply(world, value, depth + 1);
  }
}
