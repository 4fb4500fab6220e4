/**
 * Hard-linked images are refused for writes (issue 10, hole 4).
 *
 * Confinement is about names: a path under the roots is allowed. A hard link
 * is another name for the same inode, and it may sit anywhere on the same
 * filesystem — a link inside the roots to /etc/shadow or to another VM's disk
 * passes every path check, and writing "the image" writes that file. The
 * agent cannot tell where the other names are, so it writes, replaces and
 * removes only images whose inode has exactly one name (st_nlink = 1). Reads
 * are not refused: a ticketed or admin read of a file the roots already name
 * discloses nothing the roots' owner did not put there.
 */
import { failedPrecondition } from '../../shared/errors.js';

/**
 * FAILED_PRECONDITION unless `links` (st_nlink of the file at `path`) is 1.
 * @param what what the agent would have done, for the message ("write into", "replace", "remove")
 */
export function refuseHardLinked(links: number | bigint, path: string, field: string, what: string): void {
  if (Number(links) <= 1) return;
  throw failedPrecondition(
    `${field}: ${path} has ${Number(links)} hard links (the same file is reachable under another name, possibly outside the image roots); the agent does not ${what} a hard-linked image — copy it to a file of its own first`,
  );
}
