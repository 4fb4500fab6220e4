/**
 * The rate limit of one operation's data from `from` to `to`: a
 * `transfer.links` entry for that way if there is one, else
 * `transfer.bwlimit` (0: none). Hosts match as written on the command line.
 */
import type { ControllerOptions } from '../config/controller-config.js';
import type { AgentCapability } from '../../shared/capabilities.js';
import { compressField } from '../cli/compress-flag.js';

/** Bytes per second for PullImage's rate_limit; 0 for no limit. */
export function rateLimitFor(transfer: ControllerOptions['transfer'], from: string, to: string): number {
  return transfer.links.find((l) => l.from === from && l.to === to)?.bwlimit ?? transfer.bwlimit;
}

/**
 * The capabilities both agents need for these settings: an older agent would
 * ignore the fields and copy unpaced or plain, so it is refused up front.
 */
export function transferNeeds(transfer: ControllerOptions['transfer'], from: string, to: string): AgentCapability[] {
  const settings = pullSettingsFor(transfer, from, to);
  return [...(settings.rateLimit > 0 ? (['transfer.rate-limit'] as const) : []), ...(settings.compress !== 'COMPRESS_OFF' ? (['transfer.compress'] as const) : [])];
}

/** The transfer settings of a pull from `from` to `to`: its rate limit and compression (--bwlimit, --compress). */
export function pullSettingsFor(
  transfer: ControllerOptions['transfer'],
  from: string,
  to: string,
): { rateLimit: number; compress: 'COMPRESS_OFF' | 'COMPRESS_ZSTD' | 'COMPRESS_AUTO' } {
  return { rateLimit: rateLimitFor(transfer, from, to), compress: compressField(transfer.compress) };
}
