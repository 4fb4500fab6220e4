/**
 * Image files for the integration tests: made with random data and holes,
 * changed in place, hashed, looked at with qemu-img and compared with a raw
 * file's content.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { promisify } from 'node:util';

/** sha256 of a whole file, streamed: the one the e2e tests use too. */
export { sha256 } from '../../support/file-sha256.js';

/** execFile as a promise: how the integration tests run qemu-img, qemu-io, cmp and cp. */
export const run = promisify(execFile);

/** A byte span of a request. */
export interface Span {
  offset: number;
  length: number;
}

/** A raw file of `size` bytes: random data over `spans`, allocated zeros over `zeros`, holes elsewhere. */
export async function makeRaw(path: string, size: number, spans: [number, number][], zeros: [number, number][] = []): Promise<void> {
  const fh = await open(path, 'w');
  await fh.truncate(size);
  for (const [offset, length] of spans) await fh.write(randomBytes(length), 0, length, offset);
  for (const [offset, length] of zeros) await fh.write(Buffer.alloc(length), 0, length, offset);
  await fh.close();
}

/** Overwrites spans of a file with random bytes (or zeros) and returns them as ranges. */
export async function change(path: string, spans: [number, number][], zero = false): Promise<Span[]> {
  const fh = await open(path, 'r+');
  for (const [offset, length] of spans) await fh.write(zero ? Buffer.alloc(length) : randomBytes(length), 0, length, offset);
  await fh.close();
  return spans.map(([offset, length]) => ({ offset, length }));
}

export async function gone(path: string): Promise<boolean> {
  return stat(path).then(
    () => false,
    () => true,
  );
}

/** qemu-img compare of a raw file with an image of `format` (exit 0 = same guest content). */
export async function sameGuestContent(rawPath: string, image: string, format: string): Promise<void> {
  await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', format, rawPath, image]);
}

export async function qemuInfo(path: string): Promise<{ format: string; 'virtual-size': number; 'format-specific'?: { data?: { compat?: string } } }> {
  return JSON.parse((await run('qemu-img', ['info', '--output=json', '--force-share', path])).stdout) as { format: string; 'virtual-size': number };
}

/** The qemu-nbd sockets in a runtime directory. */
export const nbdSockets = async (runtime: string): Promise<string[]> => (await readdir(runtime)).filter((n) => n.startsWith('nbd-'));
