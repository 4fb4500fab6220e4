/**
 * Creates the directories missing between a file to be created and its
 * image root (PullImageRequest.make_parents): the TPM state directory of a
 * clone is named after the clone's new UUID, so nothing has made it yet.
 *
 * The nearest existing ancestor is resolved and confined like any path and
 * opened beneath its root; each missing component is then made and opened
 * through the descriptor of the one before (mkdirat + openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a component swapped for a
 * symlink meanwhile is refused, never followed. Mode 0711: traversable by
 * the user a state directory is later handed to (libvirt gives swtpm's
 * `tpm2/` to `tss` at start; swtpm must reach it through its parent), not
 * listable by anyone but root.
 */
import { basename, dirname } from 'node:path';
import { KvmcloneError } from '../../shared/errors.js';
import { checkAbsolutePath } from '../../shared/validation.js';
import type { ConfinedDir } from './confined-dir.js';
import type { ImageRoots } from './image-roots.js';
import { openDirectory } from './open-beneath.js';

/** Mode of a directory made here. */
export const MADE_DIRECTORY_MODE = 0o711;
/** Most directories one call makes: a state directory is one or two levels below an existing one. */
const MAX_MADE = 4;

/** Makes the missing parents of `target`; returns the paths made, outermost first. */
export async function makeParents(roots: ImageRoots, target: unknown, field = 'target_path'): Promise<string[]> {
  const requested = checkAbsolutePath(target, field);
  const missing: string[] = [];
  let dir = dirname(requested);
  for (;;) {
    try {
      await roots.existing(dir, field);
      break;
    } catch (err) {
      if (!(err instanceof KvmcloneError) || err.code !== 'NOT_FOUND' || dir === '/' || missing.length >= MAX_MADE) throw err;
      missing.unshift(basename(dir));
      dir = dirname(dir);
    }
  }
  if (missing.length === 0) return [];
  let current: ConfinedDir = await openDirectory(roots, dir, field);
  const made: string[] = [];
  try {
    for (const name of missing) {
      const next = current.subdirectory(name, MADE_DIRECTORY_MODE);
      current.close();
      current = next;
      made.push(next.path);
    }
    await current.sync();
  } finally {
    current.close();
  }
  return made;
}
