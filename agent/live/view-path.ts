/**
 * The path under which a disk of a live (point-in-time) view is read through
 * DiskService: `/.kvmclone-live/<operation-id>/<target>`. It names no file —
 * no image root can contain it — so a view path can never be mistaken for an
 * image, and a request for one is routed to the view's NBD export instead of
 * the filesystem.
 */
import { invalidArgument } from '../../shared/errors.js';
import { ID_PATTERN } from '../../shared/validation.js';

/** Prefix of every view path. */
export const VIEW_PATH_PREFIX = '/.kvmclone-live/';

/** Guest targets as libvirt names them (vda, sdb, hdc, xvda, ...). */
const TARGET_PATTERN = /^[a-z]{1,8}[0-9]{0,3}$/;

/** Operation and disk a view path names. */
export interface ViewPath {
  readonly operationId: string;
  readonly target: string;
}

/** The view path of `target` in the view of `operationId`. */
export function viewPathOf(operationId: string, target: string): string {
  return `${VIEW_PATH_PREFIX}${operationId}/${target}`;
}

/** True when `path` is in the view namespace (whether or not it is well formed). */
export function isViewPath(path: string): boolean {
  return path.startsWith(VIEW_PATH_PREFIX);
}

/** Parses a view path; INVALID_ARGUMENT naming `field` when it is malformed. */
export function parseViewPath(path: string, field = 'path'): ViewPath {
  const rest = path.slice(VIEW_PATH_PREFIX.length).split('/');
  const [operationId, target] = rest;
  if (!isViewPath(path) || rest.length !== 2 || operationId === undefined || target === undefined || !ID_PATTERN.test(operationId) || !TARGET_PATTERN.test(target)) {
    throw invalidArgument(`${field}: ${path.slice(0, 200)} is not a live view path (${VIEW_PATH_PREFIX}<operation-id>/<target>)`);
  }
  return { operationId, target };
}
