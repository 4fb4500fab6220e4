/**
 * sha256 of a whole file, read as a stream: the strictest check that an
 * image is unchanged (or changed), for images of gigabytes that should not
 * be read into memory at once.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Hex sha256 of the bytes of `path`. */
export async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
