/**
 * A temporary directory for the length of one test body, removed however
 * the body ends: the tests that write files of their own (journals, restore
 * points, replica files, hash caches) each get a fresh one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs `body` with a new directory under the system's temporary directory, named from `prefix`, then removes it. */
export async function withTempDir(prefix: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
