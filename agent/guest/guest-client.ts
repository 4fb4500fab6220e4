/**
 * What the guest-layer data plane needs from an NBD connection, as plain
 * interfaces. The real thing is agent/nbd/nbd-client.ts (NbdClient fits both
 * structurally); keeping the seam this narrow lets the hashing, reading and
 * writing code be driven by a fake in unit tests, and by either end of a live
 * copy — the source's point-in-time export or the destination's qemu-nbd.
 */
import { invalidArgument } from '../../shared/errors.js';

/** One extent of an NBD meta context, as NBD_CMD_BLOCK_STATUS reports it. */
export interface ContextExtent {
  readonly offset: number;
  readonly length: number;
  /** Context-specific bits (base:allocation: 1 = hole, 2 = zero; a dirty bitmap: 1 = dirty). */
  readonly flags: number;
}

/** Reading side of an NBD export: its size, its bytes and its block status. */
export interface GuestReader {
  /** Export size: the guest-visible (virtual) size of the image. */
  readonly size: number;
  /** Exactly `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<Buffer>;
  /** Extents of `context` over [offset, offset + length), in order. */
  extents(context: string, offset: number, length: number, signal: AbortSignal): AsyncIterable<ContextExtent>;
}

/** Writing side of an NBD export (the destination's writable qemu-nbd). */
export interface GuestWriter extends GuestReader {
  write(offset: number, data: Buffer): Promise<void>;
  /** Makes the span read as zeros; `mayTrim` lets the server deallocate it (a hole) instead of writing zeros. */
  writeZeroes(offset: number, length: number, options: { mayTrim: boolean }): Promise<void>;
  /** Everything written so far is durable once this resolves. */
  flush(): Promise<void>;
}

/** Counts what a guest-layer call read from its export (LiveDisk.bytes_read, logs). */
export interface GuestCounters {
  bytesRead: number;
}

/** Image formats a guest-layer copy writes: a qcow2 disk stays a qcow2. */
export const GUEST_FORMATS = ['qcow2', 'raw'] as const;

/** One of GUEST_FORMATS. */
export type GuestFormat = (typeof GUEST_FORMATS)[number];

/** True for a format the guest layer writes and reads. */
export function isGuestFormat(value: string): value is GuestFormat {
  return (GUEST_FORMATS as readonly string[]).includes(value);
}

/** Checks a request's format field; INVALID_ARGUMENT naming `field` for anything but qcow2 or raw. */
export function checkGuestFormat(value: string, field = 'format'): GuestFormat {
  if (!isGuestFormat(value)) throw invalidArgument(`${field}: ${JSON.stringify(value.slice(0, 40))} is not an image format a guest-layer copy writes (qcow2, raw)`);
  return value;
}
