/**
 * The layout the confinement tests check the agent's path rules against: a
 * temporary directory holding an image root (`images`) and, beside it, a
 * directory no path may reach (`outside`), with the root opened as the
 * agent opens its roots.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageRoots } from '../../agent/paths/image-roots.js';

/** The temporary directory, its image root, the directory outside the root, and the root opened. */
export interface RootAndOutside {
  dir: string;
  images: string;
  outside: string;
  roots: ImageRoots;
}

/** Makes the layout in a new temporary directory named from `prefix`, with `subdirs` (relative paths) made in the root first. */
export async function makeRootAndOutside(prefix: string, ...subdirs: string[]): Promise<RootAndOutside> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const images = join(dir, 'images');
  const outside = join(dir, 'outside');
  await mkdir(images);
  for (const sub of subdirs) await mkdir(join(images, sub), { recursive: true });
  await mkdir(outside);
  return { dir, images, outside, roots: await ImageRoots.open([images]) };
}
