/**
 * DiskService's GUEST layer on image files (the destination side of a live
 * copy): HashBlocks and DigestImage of what the guest sees, so a qcow2 copy
 * compares block for block with the source's point-in-time view, which
 * speaks guest offsets only.
 *
 * A raw image already is its guest view, byte for byte, so it takes the file
 * path (and the agent's remembered hashes) unchanged — its file size is
 * exact, where qemu would round a raw image's virtual size up to 512 bytes.
 * Any other format is read through a read-only qemu-nbd of our own
 * (guest-image.ts). Each function here is one concern of disk-service.ts,
 * which dispatches to it in one line.
 */
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { invalidArgument } from '../../shared/errors.js';
import type { DigestImageResponse } from '../../shared/generated/kvmclone/agent/v1/DigestImageResponse.js';
import type { HashBlocksResponse } from '../../shared/generated/kvmclone/agent/v1/HashBlocksResponse.js';
import { digestFile, type HashPlan } from '../disk/block-hasher.js';
import type { HashMemory } from '../disk/hash-memory.js';
import { withReadOnlyFile } from '../disk/read-ahead.js';
import { rememberedDigest, rememberedHashBlocks } from '../disk/remembered-hashes.js';
import { checkImageChain, sniffFormat } from '../images/image-header.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { CallContext, StreamSink } from '../rpc/handlers.js';
import type { GuestFormat } from './guest-client.js';
import { guestDigest, guestHashBatches } from './guest-hashes.js';
import { withGuestImage } from './guest-image.js';

/** What the guest-layer calls need from DiskService. */
export interface GuestCallDeps {
  readonly roots: ImageRoots;
  readonly hashMemory: HashMemory;
  /** Directory for qemu-nbd sockets: the agent's runtime directory (the system's temporary directory when absent, as in tests). */
  readonly runtimeDir?: string;
}

/**
 * True when a request's `layer` asks for the guest layer; false for FILE or
 * UNSPECIFIED; INVALID_ARGUMENT for a value this agent does not know.
 */
export function isGuestLayer(layer: unknown, field = 'layer'): boolean {
  if (layer === 'EXTENT_LAYER_GUEST') return true;
  if (layer === 'EXTENT_LAYER_FILE' || layer === 'EXTENT_LAYER_UNSPECIFIED') return false;
  throw invalidArgument(`${field}: ${String(layer)} is not a known extent layer`);
}

/**
 * The format of an image file the guest layer reads: qcow2 when it starts
 * with the qcow2 magic, raw otherwise — read from its first bytes, never
 * qemu's probe, which could pick a format (vmdk, vhdx, ...) whose header
 * names further files. Its whole chain, as the headers say it, is then
 * checked against the image roots (image-header.ts), because the qemu-nbd
 * that reads it follows the backing references itself: PERMISSION_DENIED
 * for a chain leading anywhere unexpected, DATA_LOSS for a malformed header.
 */
export async function guestFormatOf(resolved: string, roots: ImageRoots, field = 'path'): Promise<GuestFormat> {
  const format = await sniffFormat(resolved);
  await checkImageChain(resolved, format, { roots, field });
  return format;
}

/**
 * The digest (DigestImage form) of what the guest sees in the image at
 * `resolved`: the file's for raw, through a read-only qemu-nbd otherwise.
 * Used by DigestImage and by guest-layer pulls to digest what they wrote.
 */
export async function digestGuestImage(resolved: string, format: GuestFormat, runtimeDir: string | undefined, signal: AbortSignal): Promise<{ size: number; digest: string }> {
  if (format === 'raw') return withRawFile(resolved, async (fh, size) => ({ size, digest: await digestFile(fh, size, signal) }));
  return withGuestImage(resolved, format, { writable: false, runtimeDir: runtimeDir ?? tmpdir(), signal }, async (image) => ({
    size: image.size,
    digest: await guestDigest(image.client, signal),
  }));
}

/** Runs `fn` on the regular file at `resolved`, opened read-only, with its size. */
function withRawFile<T>(resolved: string, fn: (fh: FileHandle, size: number) => Promise<T>): Promise<T> {
  return withReadOnlyFile(resolved, async (fh) => {
    const st = await fh.stat();
    if (!st.isFile()) throw invalidArgument(`path: ${resolved} is not a regular file`);
    return fn(fh, st.size);
  });
}

/** HashBlocks, GUEST layer, of the image at `path` (confined here); `plan` is validated like the FILE layer's. */
export async function guestHashBlocks(path: string, plan: HashPlan, send: StreamSink<HashBlocksResponse>, ctx: CallContext, deps: GuestCallDeps): Promise<void> {
  const resolved = await deps.roots.existing(path, 'path');
  const format = await guestFormatOf(resolved, deps.roots);
  const { blockSize } = plan;
  const sendAll = async (batches: AsyncIterable<{ offset: number; blockCount: number; hashes: Buffer }>, size: number): Promise<void> => {
    let sent = false;
    for await (const batch of batches) {
      await send({ offset: batch.offset, blockSize, blockCount: batch.blockCount, hashes: batch.hashes, fileSize: size });
      sent = true;
    }
    // Nothing to hash (offset at the end): one empty batch still tells the size.
    if (!sent) await send({ offset: plan.offset, blockSize, blockCount: 0, hashes: Buffer.alloc(0), fileSize: size });
  };
  if (format === 'raw') {
    await withRawFile(resolved, (fh, size) => sendAll(rememberedHashBlocks(fh, resolved, size, plan, deps.hashMemory, ctx.signal), size));
    return;
  }
  const counters = { bytesRead: 0 };
  await withGuestImage(resolved, format, { writable: false, runtimeDir: deps.runtimeDir ?? tmpdir(), signal: ctx.signal }, async (image) => {
    await sendAll(guestHashBatches(image.client, plan, ctx.signal, counters), image.size);
  });
  ctx.log.debug({ path: resolved, format, bytesRead: counters.bytesRead }, 'guest blocks hashed');
}

/** DigestImage, GUEST layer, of the image at `path` (confined here): size is the virtual size. */
export async function guestDigestImage(path: string, ctx: CallContext, deps: GuestCallDeps): Promise<DigestImageResponse> {
  const resolved = await deps.roots.existing(path, 'path');
  const format = await guestFormatOf(resolved, deps.roots);
  if (format === 'raw') return withRawFile(resolved, async (fh, size) => ({ size, digest: await rememberedDigest(fh, resolved, size, deps.hashMemory, ctx.signal) }));
  return digestGuestImage(resolved, format, deps.runtimeDir, ctx.signal);
}
