/**
 * An image opened through its format: a qemu-nbd of our own on a fresh unix
 * socket in the agent's runtime directory, and our NBD client on it. This is
 * how the destination of a live copy writes a qcow2 as a qcow2 (guest
 * offsets in, qcow2 clusters out) and how it reads back what the guest would
 * see to digest it.
 *
 * Each open gets its own socket name (`nbd-<random>.sock`), so a stale socket
 * of a crashed agent is never dialled and two opens never meet; the socket
 * lives only as long as the qemu-nbd does.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { NbdClient } from '../nbd/nbd-client.js';
import { startQemuNbd } from '../nbd/qemu-nbd-server.js';
import { prepareSocketPath } from '../server/socket-file.js';
import type { GuestFormat } from './guest-client.js';
import { BASE_ALLOCATION } from './guest-extents.js';

/** An image served by our qemu-nbd, with a connected client. */
export interface GuestImage {
  readonly client: NbdClient;
  /** The guest-visible (virtual) size: the export's size. */
  readonly size: number;
  /**
   * Flushes (when writable: a resolved close means every write is durable),
   * disconnects and stops qemu-nbd. Safe to call more than once; the first
   * failure (a failed flush first of all) is thrown after everything is stopped.
   */
  close(): Promise<void>;
}

/** How an image is opened. */
export interface GuestImageOptions {
  readonly writable: boolean;
  /** Directory for the qemu-nbd socket: the agent's runtime directory (made safe like the agent's own socket's). */
  readonly runtimeDir: string;
  /** Aborts the start and the connect (not a later close). */
  readonly signal: AbortSignal;
}

/** A fresh qemu-nbd socket path in `runtimeDir`. */
function socketPathIn(runtimeDir: string): string {
  return join(runtimeDir, `nbd-${randomBytes(8).toString('hex')}.sock`);
}

/**
 * Starts qemu-nbd on `path` read as `format` (never probed: the caller says
 * what the image is) and connects with the base:allocation context, so
 * holes and zeros can be skipped without reading.
 */
export async function openGuestImage(path: string, format: GuestFormat, options: GuestImageOptions): Promise<GuestImage> {
  const { writable, runtimeDir, signal } = options;
  const socketPath = socketPathIn(runtimeDir);
  // Creates the runtime directory (0755) if the agent's socket is not bound yet (journal recovery at start-up).
  await prepareSocketPath(socketPath);
  const server = await startQemuNbd({ image: path, format, socketPath, readOnly: !writable, signal });
  let client: NbdClient;
  try {
    client = await NbdClient.connect(server.socketPath, { exportName: server.exportName, metaContexts: [BASE_ALLOCATION], signal });
  } catch (err) {
    await server.close().catch(() => undefined);
    await rm(socketPath, { force: true }).catch(() => undefined);
    throw err;
  }
  const opened = client;
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    const failures: unknown[] = [];
    if (writable) await opened.flush().catch((err: unknown) => failures.push(err));
    await opened.close().catch((err: unknown) => failures.push(err));
    await server.close().catch((err: unknown) => failures.push(err));
    await rm(socketPath, { force: true }).catch(() => undefined);
    if (failures.length > 0) throw failures[0];
  };
  return {
    client: opened,
    size: opened.size,
    close: () => (closing ??= close()),
  };
}

/** Runs `fn` on an image opened by openGuestImage and closes it however `fn` ends (a failed close fails a successful `fn`). */
export async function withGuestImage<T>(path: string, format: GuestFormat, options: GuestImageOptions, fn: (image: GuestImage) => Promise<T>): Promise<T> {
  const image = await openGuestImage(path, format, options);
  let result: T;
  try {
    result = await fn(image);
  } catch (err) {
    await image.close().catch(() => undefined);
    throw err;
  }
  await image.close();
  return result;
}
