/**
 * The confinement rule of the agent: every image path a request names must
 * resolve, symlinks included, to a place under one of the configured image
 * roots. The check happens on the resolved path, so a symlink inside a root
 * that points outside it is refused like the outside path itself.
 */
import { constants, openSync } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { invalidArgument, notFound, permissionDenied, errnoCode } from '../../shared/errors.js';
import { checkAbsolutePath } from '../../shared/validation.js';

/** Resolved, existing directories under which the agent may read and write images. */
export class ImageRoots {
  private constructor(
    readonly roots: readonly string[],
    /** One descriptor per root, opened once at start: every file is opened beneath one of these (open-beneath.ts). */
    private readonly fds: readonly number[],
  ) {}

  /** Resolves the configured roots; each must exist and be a directory. */
  static async open(configured: readonly string[]): Promise<ImageRoots> {
    if (configured.length === 0) throw invalidArgument('at least one image root is required');
    const resolved: string[] = [];
    for (const root of configured) {
      const path = checkAbsolutePath(root, 'images root');
      let real: string;
      try {
        real = await realpath(path);
      } catch (err) {
        throw invalidArgument(`images root ${path} cannot be resolved: ${errnoCode(err) ?? String(err)}`);
      }
      if (!(await stat(real)).isDirectory()) throw invalidArgument(`images root ${path} is not a directory`);
      if (!resolved.includes(real)) resolved.push(real);
    }
    const fds = resolved.map((root) => openSync(root, constants.O_RDONLY | constants.O_DIRECTORY));
    return new ImageRoots(resolved, fds);
  }

  /**
   * The open root holding a resolved path, and the path relative to it ("."
   * for the root itself): what openat2 under RESOLVE_BENEATH is given. The
   * deepest root wins where roots nest. PERMISSION_DENIED outside every root.
   */
  locate(resolved: string, field = 'path'): { rootFd: number; relative: string } {
    let best = -1;
    this.roots.forEach((root, i) => {
      const inside = resolved === root || resolved.startsWith(root === '/' ? '/' : `${root}/`);
      if (inside && (best < 0 || root.length > this.roots[best].length)) best = i;
    });
    if (best < 0) throw permissionDenied(`${field}: ${resolved} is outside the agent's image roots`);
    const root = this.roots[best];
    const relative = resolved === root ? '.' : resolved.slice(root === '/' ? 1 : root.length + 1);
    return { rootFd: this.fds[best], relative };
  }

  /** True when a resolved path is a root or lies beneath one. */
  contains(resolved: string): boolean {
    return this.roots.some((root) => resolved === root || resolved.startsWith(root === '/' ? '/' : `${root}/`));
  }

  private confine(requested: string, resolved: string, field: string): string {
    if (!this.contains(resolved)) {
      const via = resolved === requested ? '' : ` (it resolves to ${resolved})`;
      throw permissionDenied(`${field}: ${requested} is outside the agent's image roots${via}`);
    }
    return resolved;
  }

  /** Resolves a path that must exist; NOT_FOUND if it does not, PERMISSION_DENIED outside the roots. */
  async existing(path: unknown, field = 'path'): Promise<string> {
    const requested = checkAbsolutePath(path, field);
    let resolved: string;
    try {
      resolved = await realpath(requested);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        // Refuse outside paths before admitting whether they exist.
        await this.nearestExisting(requested, field);
        throw notFound(`${field}: ${requested} does not exist`);
      }
      throw err;
    }
    return this.confine(requested, resolved, field);
  }

  /**
   * Resolves a path for a file about to be created: its directory must exist
   * and resolve under a root; the file itself may or may not exist. An
   * existing file reached through a symlink is resolved and checked like any
   * path. A symlink whose target does not exist (or that loops) is refused,
   * wherever it points: whoever creates "the file" — the agent, or libvirt,
   * virtlogd and QEMU running as root for a log, serial or NVRAM path — would
   * create the link's target instead (issue 10, hole 3: a `<log file>` linked
   * to /etc/cron.d/x).
   */
  async forCreate(path: unknown, field = 'path'): Promise<string> {
    const requested = checkAbsolutePath(path, field);
    const name = basename(requested);
    if (name === '' || requested === '/') throw invalidArgument(`${field}: ${requested} names no file`);
    let dir: string;
    try {
      dir = await realpath(dirname(requested));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        await this.nearestExisting(requested, field);
        throw notFound(`${field}: directory ${dirname(requested)} does not exist`);
      }
      throw err;
    }
    this.confine(requested, dir, field);
    const candidate = join(dir, name);
    let resolved: string;
    try {
      resolved = await realpath(candidate);
    } catch (err) {
      const errno = errnoCode(err);
      if (errno !== 'ENOENT' && errno !== 'ELOOP') throw err;
      // realpath says ENOENT for a dangling link as for a missing file: lstat tells them apart.
      await refuseLinkInPlace(candidate, requested, field);
      if (errno === 'ELOOP') throw err;
      return this.confine(requested, candidate, field);
    }
    return this.confine(requested, resolved, field);
  }

  /** The nearest existing ancestor of a path (or the path itself), resolved and confined. */
  async nearestExisting(path: unknown, field = 'path'): Promise<string> {
    let current = checkAbsolutePath(path, field);
    const requested = current;
    for (;;) {
      try {
        return this.confine(requested, await realpath(current), field);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT' || current === '/') throw err;
        current = dirname(current);
      }
    }
  }
}

/** PERMISSION_DENIED when a symlink stands at `candidate`, the last component of a path to be created. */
async function refuseLinkInPlace(candidate: string, requested: string, field: string): Promise<void> {
  let isLink: boolean;
  try {
    isLink = (await lstat(candidate)).isSymbolicLink();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  if (isLink) {
    throw permissionDenied(
      `${field}: ${requested} is a symbolic link to a file that does not exist; the agent never lets a file be created through a link (remove the link or create its target first)`,
    );
  }
}
