/**
 * qemu-img, the reference tool for image formats: info (with the backing
 * chain) and map. Read-only calls use --force-share so they also work on the
 * image of a running VM.
 *
 * qemu-img is never left to guess: every call states the format (`-f`, or a
 * `json:` filename naming each link's driver), and a chain is walked and
 * checked by kvmclone (image-header.ts) before qemu opens any of it, so a
 * header naming `/dev/sda`, an NBD server or an external data file is refused
 * before qemu could read it. Callers that know the format (the domain XML,
 * the request) pass it; otherwise it is sniffed from the qcow2 magic, never
 * probed.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { fdPath, runWithFds } from '../process/run-with-fds.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { holdChain, heldChainSpec } from './held-chain.js';
import { checkImageChain, checkImageFormat, hasQcow2Magic, sniffFormat, type ChainLink, type ImageFormat } from './image-header.js';

const infoSchema = z.object({
  filename: z.string(),
  format: z.string(),
  'virtual-size': z.number(),
  'actual-size': z.number().optional(),
  'backing-filename': z.string().optional(),
  'full-backing-filename': z.string().optional(),
  'backing-filename-format': z.string().optional(),
});

/** One image of a chain as qemu-img describes it. */
export interface QemuImageInfo {
  path: string;
  format: string;
  virtualSize: number;
  allocatedSize: number;
  /** Backing reference as written in the header, or "". */
  backingReference: string;
  /** The backing file's path as qemu-img resolves it, or "". */
  backingPath: string;
  backingFormat: string;
}

function toInfo(raw: z.infer<typeof infoSchema>): QemuImageInfo {
  return {
    path: raw.filename,
    format: raw.format,
    virtualSize: raw['virtual-size'],
    allocatedSize: raw['actual-size'] ?? 0,
    backingReference: raw['backing-filename'] ?? '',
    backingPath: raw['full-backing-filename'] ?? '',
    backingFormat: raw['backing-filename-format'] ?? '',
  };
}

/** What a chain-reading call may be told: the image's format, and the roots its backing files must lie under. */
export interface QemuImgOptions {
  /** The format the caller knows (domain XML, request); sniffed from the magic when absent, never probed. */
  format?: string;
  /** When given, every backing file must resolve under these roots. */
  roots?: ImageRoots;
}

async function formatOf(path: string, format: string | undefined): Promise<ImageFormat> {
  return format === undefined || format === '' ? sniffFormat(path) : checkImageFormat(format);
}

/** The checked chain of `path`: every header read by kvmclone, every reference checked (see image-header.ts). */
export async function checkedChain(path: string, options: QemuImgOptions = {}): Promise<ChainLink[]> {
  return checkImageChain(path, await formatOf(path, options.format), { ...(options.roots && { roots: options.roots }) });
}

/**
 * `qemu-img info -f FORMAT` of one image (no chain). The image is opened once
 * and everything — the format sniff, the header check (its own header only:
 * no external data file), qemu-img itself — works on that descriptor, so the
 * header checked is the header qemu reads (qemuImgInfoOf).
 */
export async function qemuImgInfo(path: string, signal?: AbortSignal, format?: string): Promise<QemuImageInfo> {
  // O_NONBLOCK: a FIFO in an image's place must not hang the agent.
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    return await qemuImgInfoOf({ fh, path }, signal, format);
  } finally {
    await fh.close();
  }
}

/**
 * `qemu-img info -f FORMAT` of an image the agent holds open (`path` is its
 * resolved name, for what is reported): the header is checked from the
 * descriptor, and qemu-img reads the same inode through `/dev/fd/3`, never
 * the path (issue 10, hole 4). The backing path is the header's reference
 * resolved against `path`'s directory, as qemu would.
 */
export async function qemuImgInfoOf(image: { fh: FileHandle; path: string }, signal?: AbortSignal, format?: string): Promise<QemuImageInfo> {
  const fmt = format === undefined || format === '' ? ((await hasQcow2Magic(image.fh)) ? 'qcow2' : 'raw') : checkImageFormat(format);
  if (fmt === 'qcow2') await checkImageChain(image.path, fmt, { headerOnly: true }, image.fh);
  const out = await runWithFds('qemu-img', ['info', '-f', fmt, '--force-share', '--output=json', fdPath(0)], [image.fh.fd], { signal, timeoutMs: 60_000 });
  const info = toInfo(infoSchema.parse(JSON.parse(out)));
  const ref = info.backingReference;
  // As qemu combines them (no normalisation): what qemu-img reported when it was given the path.
  return { ...info, path: image.path, backingPath: ref === '' ? '' : ref.startsWith('/') ? ref : `${dirname(image.path)}/${ref}` };
}

/**
 * The image first, then each backing file, nearest first: the chain walked
 * and checked by kvmclone, then held open (held-chain.ts) and `qemu-img info
 * -f` run on each link's descriptor.
 */
export async function qemuImgChain(path: string, signal?: AbortSignal, options: QemuImgOptions = {}): Promise<QemuImageInfo[]> {
  const chain = await holdChain(await checkedChain(path, options));
  try {
    const infos: QemuImageInfo[] = [];
    for (const [i, link] of chain.links.entries()) {
      const out = await runWithFds('qemu-img', ['info', '-f', link.format, '--force-share', '--output=json', fdPath(0)], [chain.fds[i]], { signal, timeoutMs: 60_000 });
      const info = toInfo(infoSchema.parse(JSON.parse(out)));
      const ref = info.backingReference;
      const backingPath = link.backingPath !== '' ? link.backingPath : ref === '' ? '' : ref.startsWith('/') ? ref : `${dirname(link.path)}/${ref}`;
      infos.push({ ...info, path: link.path, backingPath });
    }
    return infos;
  } finally {
    await chain.close();
  }
}

const mapSchema = z.array(z.object({ start: z.number(), length: z.number(), data: z.boolean(), zero: z.boolean() }));

/** One run of the guest-visible map. */
export interface GuestExtent {
  offset: number;
  length: number;
  data: boolean;
  zero: boolean;
}

/**
 * `qemu-img map`: what the guest sees, through the format and its backing
 * chain — the chain checked first, held open, and handed to qemu link by link
 * through the descriptors with each driver stated (a `json:` filename), so
 * qemu follows no reference and opens no name itself.
 */
export async function qemuImgMap(path: string, signal?: AbortSignal, options: QemuImgOptions = {}): Promise<GuestExtent[]> {
  const chain = await holdChain(await checkedChain(path, options));
  try {
    const out = await runWithFds('qemu-img', ['map', '--force-share', '--output=json', heldChainSpec(chain)], chain.fds, { signal, timeoutMs: 300_000 });
    return mapSchema.parse(JSON.parse(out)).map((e) => ({ offset: e.start, length: e.length, data: e.data, zero: e.zero }));
  } finally {
    await chain.close();
  }
}
