/**
 * Byte-level mutation of serialized requests: what a buggy or hostile peer
 * puts on the wire that no generator would produce (truncated varints,
 * length prefixes past the end, unknown field numbers and wire types,
 * duplicated and reordered fields). The result is sent as raw bytes.
 */
import type { Prng } from './prng.js';

/** A varint encoding of `n` (up to 2^53). */
function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

/** One random protobuf field: any number, any wire type, plausible or absurd payload. */
function randomField(rng: Prng): Buffer {
  const number = rng.pick([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 100, 536870911]);
  const wire = rng.pick([0, 1, 2, 2, 3, 4, 5, 6, 7]);
  const key = varint(number * 8 + wire);
  switch (wire) {
    case 0:
      return Buffer.concat([key, varint(rng.pick([0, 1, 2 ** 32, 2 ** 53 - 1]))]);
    case 1:
      return Buffer.concat([key, rng.bytes(8)]);
    case 2: {
      const body = rng.bytes(rng.int(64));
      return Buffer.concat([key, varint(rng.chance(0.2) ? 2 ** 31 + rng.int(1000) : body.length), body]);
    }
    case 5:
      return Buffer.concat([key, rng.bytes(4)]);
    default:
      return key;
  }
}

/** Applies 1–4 random mutations to `bytes`. */
export function mutate(rng: Prng, bytes: Buffer): Buffer {
  let b = Buffer.from(bytes);
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(8)) {
      case 0:
        if (b.length > 0) b[at] = (b[at] ?? 0) ^ (1 << rng.int(8));
        break;
      case 1:
        if (b.length > 0) b[at] = rng.int(256);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(16)), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(16)))]);
        break;
      case 4:
        b = b.subarray(0, at);
        break;
      case 5:
        b = Buffer.concat([b, b.subarray(at, at + 1 + rng.int(64))]);
        break;
      case 6:
        b = Buffer.concat(rng.chance(0.5) ? [randomField(rng), b] : [b, randomField(rng)]);
        break;
      default:
        b = Buffer.concat([b.subarray(0, at), varint(0xffffffff), b.subarray(at)]);
    }
  }
  return b;
}
