/**
 * How DiskService's read calls get the image a request names: opened once,
 * beneath the roots (agent/paths/open-beneath.ts), and used only through that
 * descriptor for the whole call.
 *
 * On the admin socket the call opens it itself. On the peer socket the
 * ticket guard has already opened it — the ticket is checked against that
 * very open — and hands the descriptor over, so the handler never resolves
 * the path a second time; the lease then also carries the ticket's signal,
 * which revocation aborts.
 */
import { constants } from 'node:fs';
import type { ImageRoots } from '../paths/image-roots.js';
import { openImage, type OpenedImage } from '../paths/open-beneath.js';

/** An image a handler may read until it releases it (or, when `signal` is given, until that aborts). */
export interface ImageLease {
  readonly image: OpenedImage;
  /** Ends the use of the image early (a revoked ticket); its reason is the status the call ends with. */
  readonly signal?: AbortSignal;
  /** Closes the descriptor; idempotent. */
  release(): Promise<void>;
}

/** Gives a handler the image its request names. */
export type ImageLeaser = (request: { readonly path: string }, field: string) => Promise<ImageLease>;

/** A lease on an image opened by the caller; `release` closes it once. */
export function leaseOf(image: OpenedImage, signal?: AbortSignal): ImageLease {
  let closing: Promise<void> | undefined;
  return {
    image,
    ...(signal !== undefined && { signal }),
    release: () => (closing ??= image.fh.close()),
  };
}

/** The admin socket's leaser: opens the request's path read-only beneath the roots. */
export function openingLeaser(roots: ImageRoots): ImageLeaser {
  return async (request, field) => leaseOf(await openImage(roots, request.path, constants.O_RDONLY, field));
}

/**
 * Runs `fn` on a leased image with a signal that also ends when the lease
 * does, and releases the lease however `fn` ends. When the lease's own signal
 * ended the work, its reason (PERMISSION_DENIED, revoked) is what is thrown.
 */
export async function withLease<T>(lease: ImageLease, signal: AbortSignal, fn: (image: OpenedImage, signal: AbortSignal) => Promise<T>): Promise<T> {
  const combined = lease.signal === undefined ? signal : AbortSignal.any([signal, lease.signal]);
  try {
    lease.signal?.throwIfAborted();
    return await fn(lease.image, combined);
  } catch (err) {
    if (lease.signal?.aborted === true && !signal.aborted) throw lease.signal.reason;
    throw err;
  } finally {
    await lease.release();
  }
}
