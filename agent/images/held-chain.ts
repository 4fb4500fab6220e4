/**
 * A checked backing chain, held open for qemu-img (issue 10, hole 4).
 *
 * image-header.ts walks a chain by path and checks every header; qemu-img
 * used to open the same paths again afterwards, so a link swapped in between
 * (a header naming an external data file such as /dev/sda) would have been
 * read by qemu unchecked. Here every link is opened once, its header is read
 * again from that descriptor and must say what was checked (a regular file,
 * no data file, the same backing reference), and qemu-img is then given the
 * descriptors (`/dev/fd/3`, ...) in a `json:` filename that states each
 * driver and each backing link, so it opens nothing by name.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { permissionDenied } from '../../shared/errors.js';
import { fdPath } from '../process/run-with-fds.js';
import { chainBlockdevOptions, readQcow2Header, type ChainLink } from './image-header.js';

/** A checked chain and a descriptor for each of its links, in order. */
export interface HeldChain {
  readonly links: readonly ChainLink[];
  readonly handles: readonly FileHandle[];
  /** The descriptors to pass to runWithFds: link `i` is `fdPath(i)` in the child. */
  readonly fds: readonly number[];
  /** Closes every descriptor. */
  close(): Promise<void>;
}

function changed(link: ChainLink, why: string): Error {
  return permissionDenied(`${link.path} ${why} after its backing chain was checked; the image is refused`);
}

/** Opens every link of a checked chain and re-checks its header from the descriptor. */
export async function holdChain(links: readonly ChainLink[]): Promise<HeldChain> {
  const handles: FileHandle[] = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(handles.map((fh) => fh.close()));
  };
  try {
    for (const [i, link] of links.entries()) {
      // The top may be named through a symlink by its caller; every backing path is already resolved.
      const fh = await open(link.path, constants.O_RDONLY | constants.O_NONBLOCK | (i === 0 ? 0 : constants.O_NOFOLLOW));
      handles.push(fh);
      if (!(await fh.stat()).isFile()) throw changed(link, 'is no longer a regular file');
      if (link.format !== 'qcow2') continue;
      const header = await readQcow2Header(fh, link.path);
      if (header.hasDataFile || header.dataFile !== '') throw changed(link, 'names an external data file');
      if (header.backingReference !== link.backingReference) throw changed(link, 'names another backing file');
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { links, handles, fds: handles.map((fh) => fh.fd), close };
}

/** The `json:` filename that opens exactly a held chain through its descriptors. */
export function heldChainSpec(chain: HeldChain): string {
  // Checked first with the real paths, so a refusal names them.
  chainBlockdevOptions(chain.links);
  return `json:${JSON.stringify(chainBlockdevOptions(chain.links.map((link, i) => ({ ...link, path: fdPath(i) }))))}`;
}
