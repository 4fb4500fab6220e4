/**
 * The files of an emulated TPM's state directory that a clone or sync
 * carries (DescribeDomainResponse.tpm_state_files). swtpm keeps its state in
 * a few small files (`tpm2/tpm2-00.permall`, and `.volatilestate` or
 * `.savestate` after a save or migration); its `.lock` is recreated at each
 * start and is not state. Only a directory under the image roots is listed —
 * reading the files later goes through the same confinement as any image —
 * and only regular files are: a symlink or device in there is left out, never
 * followed.
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { KvmcloneError } from '../../shared/errors.js';
import type { ImageRoots } from '../paths/image-roots.js';

/** Deepest directory level listed (swtpm uses one: `tpm2/`). */
const MAX_DEPTH = 3;
/** Most files listed: a TPM state directory holds a handful. */
const MAX_FILES = 64;
/** swtpm's lock file: recreated at every start, not state. */
const LOCK_NAME = '.lock';

/**
 * The regular files under `dir` (relative to it, sorted), or none when `dir`
 * is '' or missing (a TPM never started) or outside the roots.
 */
export async function tpmStateFiles(roots: ImageRoots, dir: string): Promise<string[]> {
  if (dir === '') return [];
  let resolved: string;
  try {
    resolved = await roots.existing(dir, 'tpm state directory');
  } catch (err) {
    if (err instanceof KvmcloneError && (err.code === 'NOT_FOUND' || err.code === 'PERMISSION_DENIED')) return [];
    throw err;
  }
  const files: string[] = [];
  const walk = async (at: string, depth: number): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory() && depth < MAX_DEPTH) await walk(path, depth + 1);
      else if (entry.isFile() && entry.name !== LOCK_NAME && files.length < MAX_FILES) files.push(path);
    }
  };
  await walk(resolved, 1);
  return files.map((f) => relative(resolved, f)).sort();
}
