/**
 * qemu-img, the reference tool for image formats: info (with the backing
 * chain) and map. Read-only calls use --force-share so they also work on the
 * image of a running VM.
 */
import { z } from 'zod';
import { runCommand } from '../process/run-command.js';

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

/** `qemu-img info` of one image (no chain). */
export async function qemuImgInfo(path: string, signal?: AbortSignal): Promise<QemuImageInfo> {
  const out = await runCommand('qemu-img', ['info', '--force-share', '--output=json', path], { signal, timeoutMs: 60_000 });
  return toInfo(infoSchema.parse(JSON.parse(out)));
}

/** `qemu-img info --backing-chain`: the image first, then each backing file, nearest first. */
export async function qemuImgChain(path: string, signal?: AbortSignal): Promise<QemuImageInfo[]> {
  const out = await runCommand('qemu-img', ['info', '--force-share', '--output=json', '--backing-chain', path], { signal, timeoutMs: 60_000 });
  return z.array(infoSchema).parse(JSON.parse(out)).map(toInfo);
}

const mapSchema = z.array(
  z.object({ start: z.number(), length: z.number(), data: z.boolean(), zero: z.boolean() }),
);

/** One run of the guest-visible map. */
export interface GuestExtent {
  offset: number;
  length: number;
  data: boolean;
  zero: boolean;
}

/** `qemu-img map`: what the guest sees, through the format and its backing chain. */
export async function qemuImgMap(path: string, signal?: AbortSignal): Promise<GuestExtent[]> {
  const out = await runCommand('qemu-img', ['map', '--force-share', '--output=json', path], { signal, timeoutMs: 300_000 });
  return mapSchema.parse(JSON.parse(out)).map((e) => ({ offset: e.start, length: e.length, data: e.data, zero: e.zero }));
}
