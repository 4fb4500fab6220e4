/**
 * Validation of names and paths that arrive from users and requests.
 *
 * Both sides check: the controller to fail early with a clear message, the
 * agent because other programs call its API directly. Each function throws
 * INVALID_ARGUMENT naming the field and the rule it broke.
 */
import { posix } from 'node:path';
import { invalidArgument } from './errors.js';

/** libvirt accepts more, but these are the names that are safe in paths, shells and XML alike. */
export const VM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** Checks a VM (libvirt domain) name and returns it. */
export function checkVmName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || name.length === 0) throw invalidArgument(`${field}: a VM name is required`);
  if (!VM_NAME_PATTERN.test(name)) {
    throw invalidArgument(`${field}: ${JSON.stringify(name.slice(0, 80))} is not a valid VM name (1 to 64 of A-Z a-z 0-9 . _ + -, starting with a letter or digit)`);
  }
  return name;
}

/** Longest path accepted (PATH_MAX). */
export const MAX_PATH_LENGTH = 4096;

/**
 * Checks the syntax of an absolute host path from a request: absolute, no NUL
 * or control characters, no `.` or `..` segments, no empty segments. Returns
 * it without a trailing slash. Whether it is *allowed* is decided after
 * resolving symlinks (agent/paths/image-roots.ts).
 */
export function checkAbsolutePath(path: unknown, field = 'path'): string {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument(`${field}: a path is required`);
  if (path.length > MAX_PATH_LENGTH) throw invalidArgument(`${field}: path is longer than ${MAX_PATH_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex -- a path with control characters is refused
  if (/[\u0000-\u001f\u007f]/.test(path)) throw invalidArgument(`${field}: path contains control characters`);
  if (!path.startsWith('/')) throw invalidArgument(`${field}: ${JSON.stringify(path)} is not an absolute path`);
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const segments = trimmed.split('/').slice(1);
  if (segments.some((s) => s === '..')) throw invalidArgument(`${field}: ${JSON.stringify(path)} contains a '..' segment`);
  if (segments.some((s) => s === '.')) throw invalidArgument(`${field}: ${JSON.stringify(path)} contains a '.' segment`);
  if (trimmed !== '/' && segments.some((s) => s === '')) throw invalidArgument(`${field}: ${JSON.stringify(path)} contains an empty segment`);
  if (posix.normalize(trimmed) !== trimmed) throw invalidArgument(`${field}: ${JSON.stringify(path)} is not in normal form`);
  return trimmed;
}

/** Staging and operation ids: what the agent generates (UUIDs), nothing that could form a path. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{7,63}$/;

/** Checks an id made by kvmclone (staging id, operation id). */
export function checkId(id: unknown, field: string): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw invalidArgument(`${field}: ${JSON.stringify(String(id).slice(0, 80))} is not a valid id`);
  return id;
}
