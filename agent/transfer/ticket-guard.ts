/**
 * The peer socket's admission of one call (issue 10, hole 4), in the order
 * that gives nothing away:
 *
 * 1. The ticket alone decides first. A call without a live ticket is refused
 *    with one status and one message whatever path it names — existing,
 *    missing, outside the roots — so it learns nothing about which files exist.
 * 2. Only then is the path resolved and the image opened, once, beneath the
 *    roots (agent/paths/open-beneath.ts), and the ticket is checked against
 *    that open file's resolved path. The descriptor is handed to the handler
 *    (agent/disk/image-lease.ts), which never resolves the path again, so
 *    what is read is what the ticket was checked against.
 * 3. The lease carries the ticket's signal: revoking the ticket ends the reads
 *    running on it.
 *
 * A path the ticket does not name is refused with one message too, whether it
 * exists or not, unless the ticket names the requested path as written (then
 * the real NOT_FOUND, say, is the operation's own business).
 */
import { constants } from 'node:fs';
import { KvmcloneError, permissionDenied } from '../../shared/errors.js';
import { leaseOf, type ImageLease } from '../disk/image-lease.js';
import { isViewPath, parseViewPath } from '../live/view-path.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { openImage } from '../paths/open-beneath.js';
import type { TicketGrant, TicketRegistry } from './ticket-registry.js';

/** The refusal of every call without a live ticket: the same status and text for any path. */
export const NO_TICKET = 'the peer socket needs a live ticket from OpenTicket; this call has none (or it was revoked)';

/** What an admitted call may use. */
export interface Admission {
  readonly grant: TicketGrant;
  /** The image, opened and checked, for a file path; absent for a live view path (answered from its export). */
  readonly lease?: ImageLease;
}

function notOnTicket(path: string): KvmcloneError {
  return permissionDenied(`the ticket does not name ${path}`);
}

/**
 * Admits a peer call carrying `ticket` (undefined when the metadata has none)
 * for `request.path` (at `request.layer`); throws PERMISSION_DENIED
 * (NO_TICKET first) otherwise.
 */
export async function admitPeerCall(
  ticket: unknown,
  request: { readonly path: string; readonly layer?: unknown },
  deps: { roots: ImageRoots; tickets: TicketRegistry },
): Promise<Admission> {
  const grant = typeof ticket === 'string' ? deps.tickets.lookup(ticket) : undefined;
  if (grant === undefined) throw permissionDenied(NO_TICKET);
  const { path } = request;
  // A live view's path names no file: it is checked for form and must be named by the ticket as it is.
  if (isViewPath(path)) {
    parseViewPath(path);
    if (!grant.allows(path)) throw notOnTicket(path);
    return { grant };
  }
  // The guest layer of a file goes through qemu-img and qemu-nbd by path, which would resolve it again:
  // kvmclone never asks a peer for it (live copies read views), so the peer socket refuses it.
  if (request.layer === 'EXTENT_LAYER_GUEST') throw permissionDenied('the peer socket reads image files at the FILE layer only (the GUEST layer is read from live views)');
  let image;
  try {
    image = await openImage(deps.roots, path, constants.O_RDONLY, 'path');
  } catch (err) {
    // Whether a path the ticket does not name exists, or where it leads, is none of the caller's business.
    if (!grant.allows(path) && err instanceof KvmcloneError) throw notOnTicket(path);
    throw err;
  }
  if (!grant.allows(image.path)) {
    await image.fh.close();
    throw notOnTicket(path);
  }
  return { grant, lease: leaseOf(image, grant.signal) };
}
