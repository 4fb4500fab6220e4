/**
 * Sets the backing reference of a qcow2 header held in memory, the way
 * `qemu-img rebase -u` would write it, without qemu opening anything.
 *
 * An in-place sync copies the source's changed blocks, and the first block
 * holds the source's header: a copy that was rebased at clone time
 * (`--target-dir`) would get the source's backing path back. The destination
 * keeps its own chain instead: the header the source sent is rewritten here
 * to name the destination's base before it ever reaches the journal, so the
 * image is never, not even between two journal records, pointing at the
 * source's path.
 *
 * Layout (qemu's qcow2_update_header): the header (72 bytes in version 2,
 * `header_length` in version 3), then the header extensions (type, length,
 * data padded to 8 bytes) up to an end marker, then the backing file name,
 * all inside the first cluster. The header fields and every other extension
 * are kept byte for byte; only the backing-format extension, the name and
 * the two header fields that locate the name change.
 */
import { failedPrecondition } from '../../shared/errors.js';
import type { ImageFormat } from './image-header.js';

const EXT_END = 0x00000000;
const EXT_BACKING_FORMAT = 0xe2792aca;
const MAX_BACKING_NAME = 1023;

/** One header extension as stored (its data unpadded). */
interface Extension {
  type: number;
  data: Buffer;
}

function pad8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** The extensions of the header in `cluster` (stopping at the end marker) and where the area they and the name use ends. */
function extensionsOf(cluster: Buffer, headerLength: number, nameEnd: number, name: string): { extensions: Extension[]; usedEnd: number } {
  const extensions: Extension[] = [];
  let at = headerLength;
  while (at + 8 <= cluster.length) {
    const type = cluster.readUInt32BE(at);
    const length = cluster.readUInt32BE(at + 4);
    at += 8;
    if (type === EXT_END) break;
    if (at + length > cluster.length) throw failedPrecondition(`${name}: a qcow2 header extension runs past the first cluster`);
    extensions.push({ type, data: Buffer.from(cluster.subarray(at, at + length)) });
    at += pad8(length);
  }
  return { extensions, usedEnd: Math.max(at, nameEnd) };
}

/**
 * A copy of `cluster` (the first cluster of a qcow2 image, at least
 * `clusterSize` bytes of it) whose header names `reference` in `format` as
 * its backing file ("" for none). FAILED_PRECONDITION when the result would
 * not fit in the first cluster.
 */
export function withBackingReference(cluster: Buffer, clusterSize: number, reference: string, format: ImageFormat | '', name: string): Buffer {
  if (cluster.length < Math.min(clusterSize, 112)) throw failedPrecondition(`${name}: the qcow2 header is shorter than its first cluster`);
  const version = cluster.readUInt32BE(4);
  const headerLength = version === 3 ? cluster.readUInt32BE(100) : 72;
  const oldOffset = Number(cluster.readBigUInt64BE(8));
  const oldSize = cluster.readUInt32BE(16);
  const nameBytes = Buffer.from(reference, 'utf8');
  if (nameBytes.length > MAX_BACKING_NAME)
    throw failedPrecondition(`${name}: the backing name ${JSON.stringify(reference)} is longer than qcow2 allows (${MAX_BACKING_NAME} bytes)`);
  const area = cluster.subarray(0, Math.min(cluster.length, clusterSize));
  const { extensions, usedEnd } = extensionsOf(area, headerLength, oldOffset === 0 ? 0 : oldOffset + oldSize, name);

  const kept = extensions.filter((e) => e.type !== EXT_BACKING_FORMAT);
  const written: Extension[] = reference !== '' && format !== '' ? [{ type: EXT_BACKING_FORMAT, data: Buffer.from(format, 'utf8') }, ...kept] : kept;
  const parts: Buffer[] = [];
  for (const e of written) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(e.type, 0);
    head.writeUInt32BE(e.data.length, 4);
    parts.push(head, e.data, Buffer.alloc(pad8(e.data.length) - e.data.length));
  }
  parts.push(Buffer.alloc(8)); // end marker: type 0, length 0
  const tail = Buffer.concat(parts);
  const nameOffset = headerLength + tail.length;
  const end = nameOffset + nameBytes.length;
  if (end > area.length) throw failedPrecondition(`${name}: the backing name ${JSON.stringify(reference)} does not fit in the first cluster of the qcow2 header`);

  const out = Buffer.from(cluster);
  out.fill(0, headerLength, Math.min(area.length, Math.max(usedEnd, end)));
  tail.copy(out, headerLength);
  nameBytes.copy(out, nameOffset);
  out.writeBigUInt64BE(reference === '' ? 0n : BigInt(nameOffset), 8);
  out.writeUInt32BE(reference === '' ? 0 : nameBytes.length, 16);
  return out;
}
