/**
 * Where an undo record (undo-capture.ts) reads the image's current bytes
 * from: the layer its sync's journal writes. An offline sync writes the file
 * as stored, so its undo reads the file; a live sync writes through the
 * image's format (qemu-nbd, guest offsets), so its undo reads through a
 * read-only qemu-nbd of the same image — a qcow2's clusters are never the
 * guest's offsets, and only the format knows which file bytes a guest block is.
 */
import type { FileHandle } from 'node:fs/promises';
import { fileExtents } from '../disk/extent-map.js';
import { readExactly } from '../disk/read-ahead.js';
import type { ByteSpan } from '../disk/request-limits.js';
import type { GuestReader } from '../guest/guest-client.js';
import { allocationExtents } from '../guest/guest-extents.js';

/** The image as it is before the apply, at the offsets the journal uses. */
export interface UndoSource {
  /** Exactly `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<Buffer>;
  /** The spans of [from, to) that may hold data (holes and vouched zeros left out), in order. */
  dataSpans(from: number, to: number, signal: AbortSignal): AsyncIterable<ByteSpan>;
}

/** The file as stored, through the descriptor the journal is bound to. */
export function fileUndoSource(fh: FileHandle): UndoSource {
  return {
    read: (offset, length) => readExactly(fh, offset, length),
    async *dataSpans(from, to) {
      for await (const e of fileExtents(fh.fd, from, to)) if (e.kind === 'data') yield { offset: e.offset, length: e.length };
    },
  };
}

/** What the guest sees, through an NBD export of the image (a read-only qemu-nbd of our own). */
export function guestUndoSource(client: GuestReader): UndoSource {
  return {
    read: (offset, length) => client.read(offset, length),
    async *dataSpans(from, to, signal) {
      if (to <= from) return;
      for await (const e of allocationExtents(client, from, to - from, signal)) if (e.kind === 'data') yield { offset: e.offset, length: e.length };
    },
  };
}
