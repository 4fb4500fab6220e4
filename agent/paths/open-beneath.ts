/**
 * Open once, safely (issue 10, hole 4): an image path from a request is
 * resolved and confined as before (ImageRoots: NOT_FOUND, PERMISSION_DENIED
 * with the usual messages), and then opened beneath the root's descriptor
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS).
 *
 * The resolved path has no symlink and no `..` left in it, so the kernel is
 * told to follow none: if any component was swapped for a symlink (or a
 * directory moved) between the resolution and the open, the open fails
 * instead of following it, and the resolution is tried again from the start
 * (the new state is then judged as a fresh request would be). Whatever is
 * opened lies beneath a root by the kernel's own walk. Every later step —
 * reads, writes, fstat, fallocate, qemu-img through /dev/fd — uses the
 * returned descriptor, never the path again.
 */
import { closeSync, constants, fstatSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { aborted, invalidArgument } from '../../shared/errors.js';
import { ErrnoError, openat2 } from '../native/libc.js';
import { ConfinedDir, handleOf, NAME_RESOLVE, O_CLOEXEC, O_PATH } from './confined-dir.js';
import type { ImageRoots } from './image-roots.js';

/** An image file opened once beneath the roots. */
export interface OpenedImage {
  readonly fh: FileHandle;
  /** Its resolved path under the roots, for messages and for what callers report. */
  readonly path: string;
  /** Its size when it was opened. */
  readonly size: number;
  /** st_nlink when it was opened: more than one and it is refused for writes (hard-links.ts). */
  readonly links: number;
}

/** A directory opened once beneath the roots, with the name of the file a request is about. */
export interface OpenedParent {
  readonly dir: ConfinedDir;
  /** The file's last component, in `dir`. */
  readonly name: string;
  /** The file's resolved path (`dir.path` + `name`). */
  readonly path: string;
}

/** Attempts before a path that keeps changing under the agent is given up on. */
const ATTEMPTS = 3;

/** What openat2 says when the path changed between resolution and open. */
const CHANGED = new Set(['ELOOP', 'ENOENT', 'ENOTDIR', 'EXDEV', 'EAGAIN']);

/** openat2 beneath the root holding `resolved`, following nothing; undefined when the path changed meanwhile. */
function openResolved(roots: ImageRoots, resolved: string, flags: number, field: string): number | undefined {
  const { rootFd, relative } = roots.locate(resolved, field);
  try {
    return openat2(rootFd, relative, flags | O_CLOEXEC, 0, NAME_RESOLVE);
  } catch (err) {
    if (err instanceof ErrnoError && CHANGED.has(err.code)) return undefined;
    throw err;
  }
}

function keptChanging(field: string, path: string): Error {
  return aborted(`${field}: ${path} kept changing while it was being opened (a component became a symbolic link or moved); nothing was done, try again`);
}

/**
 * Opens the existing regular file `path` (confined) with `flags`; the
 * descriptor is the caller's to close. INVALID_ARGUMENT when it is not a
 * regular file, ABORTED when it changed under every attempt.
 */
export async function openImage(roots: ImageRoots, path: unknown, flags: number, field = 'path'): Promise<OpenedImage> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    const resolved = await roots.existing(path, field);
    // O_PATH first: nothing is read, and a FIFO in the file's place cannot block the open.
    const fd = openResolved(roots, resolved, O_PATH | constants.O_NOFOLLOW, field);
    if (fd === undefined) continue;
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw invalidArgument(`${field}: ${resolved} is not a regular file`);
    }
    const fh = await handleOf(fd, flags);
    return { fh, path: resolved, size: st.size, links: st.nlink };
  }
  throw keptChanging(field, String(path));
}

/**
 * Opens the directory of `path` beneath the roots. With `existing` the file
 * must exist (ImageRoots.existing: NOT_FOUND otherwise); without it, it is a
 * file to be created (ImageRoots.forCreate: a symlink in its place is
 * refused). The directory is the caller's to close.
 */
export async function openParent(roots: ImageRoots, path: unknown, field = 'path', existing = false): Promise<OpenedParent> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    const resolved = existing ? await roots.existing(path, field) : await roots.forCreate(path, field);
    const dirPath = dirname(resolved);
    const fd = openResolved(roots, dirPath, constants.O_RDONLY | constants.O_DIRECTORY, field);
    if (fd === undefined) continue;
    return { dir: new ConfinedDir(fd, dirPath), name: basename(resolved), path: resolved };
  }
  throw keptChanging(field, String(path));
}

/**
 * Opens the existing directory `path` beneath the roots (a sync journal's
 * directory: the journal and its image are then both reached through it).
 * The directory is the caller's to close.
 */
export async function openDirectory(roots: ImageRoots, path: unknown, field = 'path'): Promise<ConfinedDir> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    const resolved = await roots.existing(path, field);
    const fd = openResolved(roots, resolved, constants.O_RDONLY | constants.O_DIRECTORY, field);
    if (fd !== undefined) return new ConfinedDir(fd, resolved);
  }
  throw keptChanging(field, String(path));
}

/** Runs `fn` with the directory of `path` open, and closes it however `fn` ends. */
export async function withParent<T>(roots: ImageRoots, path: unknown, field: string, existing: boolean, fn: (parent: OpenedParent) => Promise<T>): Promise<T> {
  const parent = await openParent(roots, path, field, existing);
  try {
    return await fn(parent);
  } finally {
    parent.dir.close();
  }
}
