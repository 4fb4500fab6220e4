/**
 * Random request messages for any RPC of the agent, built from the message
 * descriptors proto-loader produced for shared/proto.ts (so every field of
 * every request is covered, new fields included, without a list to keep in
 * step). Field names steer the values: a `*path*` or `*socket*` field gets a
 * hostile path, `xml` a domain from the grammar, `ticket` a harvested ticket,
 * hashes are sometimes right so a chunk gets past its hash check; any field
 * may also get an edge value of its wire type instead.
 */
import type * as protoLoader from '@grpc/proto-loader';
import { chunkHash, gridPieceHashes } from '../../../shared/block-hash.js';
import type { FuzzWorld } from './fuzz-world.js';
import { harvested } from './fuzz-world.js';
import { checkpointXml, domainXml } from './domain-xml-grammar.js';
import { hostileId, hostilePath, hostileVmName, randomText } from './hostile-values.js';
import type { Prng } from './prng.js';

/** The parts of a protobuf DescriptorProto field the generator reads. */
interface FieldDescriptor {
  name: string;
  label: string;
  type: string;
  typeName: string;
  oneofIndex?: number;
  proto3Optional?: boolean;
}
interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  oneofDecl: unknown[];
}

/**
 * Whether `field` belongs to a oneof. proto-loader's descriptors give every
 * field oneofIndex 0 (a default, not "in oneof 0"), so a field counts as a
 * member only in a message that declares a oneof — in the v1 API every such
 * message (ReadRangesResponse, WriteRangesRequest) is all oneof.
 */
function inOneof(type: MessageDescriptor, field: FieldDescriptor): boolean {
  return type.oneofDecl.length > 0 && field.oneofIndex !== undefined && field.oneofIndex < type.oneofDecl.length && !field.proto3Optional;
}
interface EnumDescriptor {
  value: { name: string; number: number }[];
}

/** A request object in proto-loader's form (camelCase keys). */
export type RequestObject = Record<string, unknown>;

const PACKAGE = 'kvmclone.agent.v1';

/** Looks message and enum descriptors up by name in a package definition. */
export class DescriptorIndex {
  constructor(private readonly definition: protoLoader.PackageDefinition) {}

  message(typeName: string): MessageDescriptor {
    const def = this.definition[typeName.includes('.') ? typeName.replace(/^\./, '') : `${PACKAGE}.${typeName}`] as protoLoader.MessageTypeDefinition<unknown, unknown> | undefined;
    if (!def) throw new Error(`no message type ${typeName}`);
    return def.type as unknown as MessageDescriptor;
  }

  enumValues(typeName: string): number[] {
    const def = this.definition[typeName.includes('.') ? typeName.replace(/^\./, '') : `${PACKAGE}.${typeName}`] as protoLoader.EnumTypeDefinition | undefined;
    if (!def) throw new Error(`no enum type ${typeName}`);
    return (def.type as unknown as EnumDescriptor).value.map((v) => v.number);
  }
}

const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

const U64_EDGES = [0, 1, 511, 512, 4095, 4096, 65535, 65536, 1048576, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53 - 1, -1, -65536];
const U32_EDGES = [0, 1, 4096, 65535, 65536, 4194304, 4194305, 2 ** 31 - 1, 2 ** 32 - 1, -1];
const FORMATS = ['qcow2', 'raw', '', 'vmdk', 'vdi', 'luks', 'nbd', 'file', 'host_device', 'qcow2,backing.file.filename=/etc/shadow', 'json:{}', 'QCOW2'];

function bytesValue(rng: Prng, field: string, sibling: RequestObject): Buffer {
  const data = sibling.data;
  if ((field === 'hash' || field === 'blockHashes') && Buffer.isBuffer(data) && rng.chance(0.6)) {
    const offset = typeof sibling.offset === 'number' ? sibling.offset : 0;
    return field === 'hash' ? chunkHash(data) : gridPieceHashes(Math.max(0, offset), data);
  }
  const n = rng.pick([0, 1, 16, 17, 4096, 65536, 65536 + 1, rng.int(200_000), rng.chance(0.05) ? 4 * 1024 * 1024 + 1 : 1024]);
  return rng.chance(0.3) ? Buffer.alloc(n) : rng.bytes(n);
}

/** A value that passes validation, so the call reaches the code behind it. */
function plausibleString(rng: Prng, world: FuzzWorld, f: string): string {
  const id = (): string => `${rng.u32().toString(16).padStart(8, '0')}-${world.marker}`;
  if (f.includes('xml')) return domainXml(rng, world);
  if (f.includes('socket')) return rng.pick(world.sockets);
  if (f === 'targetpath') return rng.chance(0.6) ? `${rng.pick(world.roots)}/${world.marker}-${rng.int(8)}.qcow2` : rng.pick(world.images);
  if (f.includes('path')) return rng.chance(0.8) ? rng.pick(world.images) : (harvested(world, rng, 'path') ?? rng.pick(world.images));
  if (f === 'ticket') return harvested(world, rng, 'ticket') ?? '';
  if (f.includes('format')) return rng.pick(['qcow2', 'raw']);
  if (f === 'name' || f === 'vmname' || f === 'destvm') return harvested(world, rng, 'name') ?? `${world.marker}-vm${rng.int(4)}`;
  if (f === 'stagingid') return rng.chance(0.3) ? '' : (harvested(world, rng, 'stagingId') ?? id());
  if (f === 'operationid') return harvested(world, rng, 'operationId') ?? id();
  if (f === 'replicaid') return id();
  if (f === 'incrementalfrom' || f === 'keep') return harvested(world, rng, 'checkpoint') ?? '';
  return `fuzz ${world.marker}`;
}

function stringValue(rng: Prng, world: FuzzWorld, field: string, plausible: boolean): string {
  const f = field.toLowerCase();
  if (plausible) return plausibleString(rng, world, f);
  if (rng.chance(0.08)) return randomText(rng, rng.chance(0.1) ? 70_000 : 60);
  if (f.includes('xml')) return f.includes('incremental') ? checkpointXml(rng, world) : domainXml(rng, world);
  if (f.includes('socket')) return rng.chance(0.5) ? rng.pick(world.sockets) : hostilePath(rng, world);
  if (f.includes('path')) return hostilePath(rng, world);
  if (f === 'ticket') return harvested(world, rng, 'ticket') ?? randomText(rng, 60);
  if (f.includes('format')) return rng.pick(FORMATS);
  if (f === 'name' || f === 'vmname' || f === 'destvm') return hostileVmName(rng, world);
  if (f === 'stagingid') return hostileId(rng, world, 'stagingId');
  if (f === 'operationid') return hostileId(rng, world, 'operationId');
  if (f === 'incrementalfrom' || f === 'keep') return harvested(world, rng, 'checkpoint') ?? hostileId(rng, world, 'checkpoint');
  if (f === 'replicaid') return hostileId(rng, world, 'replicaId');
  return randomText(rng, 80);
}

/**
 * Builds a random message of descriptor `type`. A plausible message has
 * valid values everywhere but in one field (or none), so it gets past the
 * first validation and reaches deeper code; otherwise every field is hostile.
 * `depth` limits recursion.
 */
export function randomMessage(
  rng: Prng,
  world: FuzzWorld,
  index: DescriptorIndex,
  typeName: string,
  plausible = false,
  depth = 0,
  streamPosition: 'first' | 'later' = 'first',
): RequestObject {
  const type = index.message(typeName);
  const out: RequestObject = {};
  // One hostile field per plausible request at most, chosen at the top level.
  const hostileField = plausible && depth === 0 && rng.chance(0.6) ? rng.int(type.field.length) : -1;
  const oneofChosen = new Map<number, string>();
  if (plausible) {
    // Exactly one member of each oneof: the first one (a stream's opening message) first, another later.
    const groups = new Map<number, FieldDescriptor[]>();
    for (const f of type.field) if (inOneof(type, f)) groups.set(f.oneofIndex ?? 0, [...(groups.get(f.oneofIndex ?? 0) ?? []), f]);
    for (const [group, members] of groups) {
      const pool = streamPosition === 'first' || members.length === 1 ? members.slice(0, 1) : members.slice(1);
      oneofChosen.set(group, rng.pick(pool).name);
    }
  }
  for (const field of type.field) {
    if (inOneof(type, field)) {
      const group = field.oneofIndex ?? 0;
      const chosen = oneofChosen.get(group);
      if (plausible ? chosen !== field.name : chosen !== undefined || rng.chance(0.5)) continue;
      oneofChosen.set(group, field.name);
    } else if (rng.chance(plausible ? 0.05 : 0.15)) continue; // left at its default
    const key = camel(field.name);
    const sane = plausible && type.field.indexOf(field) !== hostileField;
    const one = (): unknown => scalar(rng, world, index, field, key, out, depth, sane);
    if (field.label === 'LABEL_REPEATED') {
      const n = !sane && rng.chance(0.02) ? 5000 + rng.int(20_000) : rng.int(sane ? 3 : 6);
      out[key] = Array.from({ length: n }, one);
    } else out[key] = one();
  }
  // A oneof left empty is sometimes filled with its first member, so messages that need one get one.
  return out;
}

function scalar(rng: Prng, world: FuzzWorld, index: DescriptorIndex, field: FieldDescriptor, key: string, message: RequestObject, depth: number, sane: boolean): unknown {
  if (sane && (field.type.includes('INT') || field.type.includes('FIXED'))) {
    // Offsets, lengths and sizes on the 64 KiB grid of the small (4 MiB) fixture images.
    if (key === 'size') return rng.pick([1048576, 4194304]);
    if (/size$/i.test(key)) return rng.pick([0, 65536, 1048576]);
    if (/batch/i.test(key)) return rng.pick([0, 1, 16]);
    if (/seconds/i.test(key)) return rng.int(2);
    if (key === 'length') return rng.pick([0, 65536, 131072]);
    return rng.int(16) * 65536;
  }
  if (sane && field.type === 'TYPE_BYTES') {
    // A chunk that passes its hash check: random data, its hash, no per-block hashes.
    if (key === 'data') return rng.bytes(rng.pick([65536, 4096, 1024]));
    if (key === 'hash') return Buffer.isBuffer(message.data) ? chunkHash(message.data) : Buffer.alloc(0);
    return Buffer.alloc(0);
  }
  switch (field.type) {
    case 'TYPE_STRING':
      return stringValue(rng, world, key, sane);
    case 'TYPE_BYTES':
      return bytesValue(rng, key, message);
    case 'TYPE_BOOL':
      return rng.chance(0.5);
    case 'TYPE_UINT64':
    case 'TYPE_INT64':
    case 'TYPE_FIXED64':
      return rng.chance(0.5) ? rng.pick(U64_EDGES) : rng.int(64) * rng.pick([1, 512, 65536, 1048576]);
    case 'TYPE_UINT32':
    case 'TYPE_INT32':
    case 'TYPE_FIXED32':
      return rng.chance(0.5) ? rng.pick(U32_EDGES) : rng.int(8) * rng.pick([1, 4096, 65536]);
    case 'TYPE_ENUM': {
      const values = index.enumValues(field.typeName);
      return sane || rng.chance(0.9) ? rng.pick(values) : rng.pick([99, -1, 2 ** 31 - 1]);
    }
    case 'TYPE_MESSAGE':
      return depth > 4 ? {} : randomMessage(rng, world, index, field.typeName, sane, depth + 1);
    default:
      return undefined;
  }
}
