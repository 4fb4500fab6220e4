/**
 * A directory under the image roots, held open, and the files in it reached
 * through that descriptor only (issue 10, hole 4).
 *
 * Resolving a path and then opening, renaming or unlinking it by name leaves
 * a window in which any directory component can be swapped for a symlink to
 * somewhere else. Here every step after the directory was opened goes through
 * its descriptor: names are single components looked up with openat2 under
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS (a symlink at
 * the name is refused, never followed — hole 3's rule for files the agent
 * creates), renames and links are renameat2/linkat between held directories,
 * and fsync goes to the descriptor itself.
 *
 * Node 20 cannot wrap a raw descriptor in a FileHandle, so a file found by
 * openat2 is reopened through its /proc/self/fd magic link: that reopens the
 * very inode the descriptor holds (no path lookup happens), and the inode is
 * compared before the raw descriptor is closed.
 */
import { closeSync, constants, fstatSync, fsync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { failedPrecondition, invalidArgument, notFound } from '../../shared/errors.js';
import { ErrnoError, fchmod, linkat, mkdirat, openat2, renameat2, RESOLVE, unlinkat } from '../native/libc.js';

/** O_PATH and O_CLOEXEC (asm-generic/fcntl.h; Node's fs.constants has neither). */
export const O_PATH = 0o10000000;
export const O_CLOEXEC = 0o2000000;

/** How every name below a held directory is looked up: one component, no symlink, no escape. */
export const NAME_RESOLVE = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;

const fsyncFd = promisify(fsync);

/** Flags a reopen through /proc must not repeat (the file exists by then). */
const CREATE_ONLY = constants.O_CREAT | constants.O_EXCL | constants.O_TRUNC;

/** Checks that `name` is one plain path component. */
function checkName(name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw invalidArgument(`${JSON.stringify(name)} is not a file name`);
  return name;
}

/**
 * Turns a raw descriptor into a FileHandle opened with `flags` on the same
 * inode, and closes the raw one. The reopen goes through /proc/self/fd/N,
 * which names the descriptor's file, not a path; dev/ino are compared anyway.
 */
export async function handleOf(rawFd: number, flags: number): Promise<FileHandle> {
  try {
    const held = fstatSync(rawFd, { bigint: true });
    const fh = await open(`/proc/self/fd/${rawFd}`, flags & ~CREATE_ONLY);
    const reopened = await fh.stat({ bigint: true });
    if (reopened.dev !== held.dev || reopened.ino !== held.ino) {
      await fh.close();
      throw failedPrecondition('a file changed identity while it was being reopened through /proc/self/fd');
    }
    return fh;
  } finally {
    closeSync(rawFd);
  }
}

/** A directory under the image roots, open for the life of one operation. */
export class ConfinedDir {
  private closed = false;

  /**
   * @param fd an O_RDONLY | O_DIRECTORY descriptor (fsync needs one that is not O_PATH)
   * @param path its resolved path, for messages and for what callers report
   */
  constructor(
    readonly fd: number,
    readonly path: string,
  ) {}

  /** The descriptor, while open: a closed one's number may already belong to another file. */
  private get live(): number {
    if (this.closed) throw new Error(`the directory ${this.path} was already closed`);
    return this.fd;
  }

  /** The path a name in this directory is reported as. */
  pathOf(name: string): string {
    return join(this.path, name);
  }

  /** An O_PATH descriptor of what stands at `name` (a symlink itself, not its target), or undefined. */
  private handleAt(name: string): number | undefined {
    try {
      return openat2(this.live, checkName(name), O_PATH | constants.O_NOFOLLOW | O_CLOEXEC, 0, NAME_RESOLVE);
    } catch (err) {
      if (err instanceof ErrnoError && err.code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * What stands at `name`, not following a symlink there (an lstat through
   * the descriptor); undefined when nothing does.
   */
  entry(name: string): Stats | undefined {
    const fd = this.handleAt(name);
    if (fd === undefined) return undefined;
    try {
      return fstatSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** dev and ino of what stands at `name` (not following a symlink), or undefined: to check a name still holds an open file. */
  identity(name: string): { dev: bigint; ino: bigint } | undefined {
    const fd = this.handleAt(name);
    if (fd === undefined) return undefined;
    try {
      const st = fstatSync(fd, { bigint: true });
      return { dev: st.dev, ino: st.ino };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Opens the regular file at `name` with `flags` (O_RDONLY, O_WRONLY or
   * O_RDWR); NOT_FOUND when absent, FAILED_PRECONDITION for a symlink or
   * anything not a regular file. Looked up with O_PATH first, so a FIFO put
   * in its place cannot block the agent.
   */
  async openFile(name: string, flags: number, field = 'path'): Promise<FileHandle> {
    const path = this.pathOf(checkName(name));
    let fd: number;
    try {
      fd = openat2(this.live, name, O_PATH | constants.O_NOFOLLOW | O_CLOEXEC, 0, NAME_RESOLVE);
    } catch (err) {
      if (err instanceof ErrnoError && err.code === 'ENOENT') throw notFound(`${field}: ${path} does not exist`);
      throw err;
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw failedPrecondition(`${field}: ${path} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; refusing to use it`);
    }
    return handleOf(fd, flags);
  }

  /** Creates `name` (O_CREAT | O_EXCL, never through a symlink) and opens it with `flags`. EEXIST when taken. */
  async createFile(name: string, flags: number, mode: number): Promise<FileHandle> {
    const fd = openat2(this.live, checkName(name), flags | constants.O_CREAT | constants.O_EXCL | O_CLOEXEC, mode, NAME_RESOLVE);
    return handleOf(fd, flags);
  }

  /** Renames `from` to `to` inside this directory (renameat2 `flags`: RENAME.NOREPLACE, ...). */
  rename(from: string, to: string, flags = 0): void {
    renameat2(this.live, checkName(from), this.live, checkName(to), flags);
  }

  /** Hard-links `from` as `to` inside this directory; EEXIST when `to` exists. */
  link(from: string, to: string): void {
    linkat(this.live, checkName(from), this.live, checkName(to));
  }

  /**
   * The directory `name` in this one, held open: created first with `mode`
   * (set exactly, whatever the umask) when it does not exist. A symlink or
   * anything not a directory at `name` is refused (openat2 follows none).
   */
  subdirectory(name: string, mode: number): ConfinedDir {
    checkName(name);
    let created = false;
    try {
      mkdirat(this.live, name, mode);
      created = true;
    } catch (err) {
      if (!(err instanceof ErrnoError) || err.code !== 'EEXIST') throw err;
    }
    let fd: number;
    try {
      fd = openat2(this.live, name, constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC, 0, NAME_RESOLVE);
    } catch (err) {
      if (err instanceof ErrnoError && (err.code === 'ENOTDIR' || err.code === 'ELOOP')) throw failedPrecondition(`${this.pathOf(name)} is not a directory; refusing to use it`);
      throw err;
    }
    if (created) fchmod(fd, mode);
    return new ConfinedDir(fd, this.pathOf(name));
  }

  /** Removes the name `name` (never a directory). */
  unlink(name: string): void {
    unlinkat(this.live, checkName(name));
  }

  /** Makes a create, link, rename or unlink in this directory durable. */
  async sync(): Promise<void> {
    await fsyncFd(this.live);
  }

  /** Closes the descriptor (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
