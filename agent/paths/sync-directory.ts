/**
 * fsync of a directory: a file created, renamed or unlinked in it survives a
 * crash only once its directory is synced (journals, staging commits, the
 * audit trail's rotation).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** Syncs the directory at `dir`. */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
