/**
 * Field types shared by the agent's and the controller's config schemas, so
 * both files accept the same spellings and report the same messages.
 */
import { z } from 'zod';
import { checkAbsolutePath } from '../validation.js';
import { durationMs } from './config-file.js';
import { parseRate } from './rate.js';

/** "10s", "500ms", "2m", "1h" or a number of seconds, compiled to milliseconds. */
export const durationField = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = durationMs(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a duration (e.g. 10s, 500ms, 2m)` });
    return z.NEVER;
  }
  return ms;
});

/** A transfer rate ("50M" = 50 MiB/s; rate.ts), compiled to bytes per second. */
export const rateField = z.string().transform((value, ctx) => {
  const parsed = parseRate(value);
  if ('error' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return z.NEVER;
  }
  return parsed.rate;
});

/** An absolute path in normal form (no `.` or `..` segments). */
export const absolutePathField = z.string().superRefine((value, ctx) => {
  try {
    checkAbsolutePath(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message.replace(/^path: /, '') : String(err) });
  }
});

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1000, MB: 1000 ** 2, GB: 1000 ** 3 };

/** "64MiB", "512KiB", "1GB" or a number of bytes, compiled to bytes (a positive integer). */
export const byteSizeField = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const m = typeof value === 'number' ? ['', String(value), ''] : /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/.exec(value.trim());
  const unit = m?.[2] ?? '';
  const bytes = m ? Math.floor(Number(m[1]) * (SIZE_UNITS[unit] ?? Number.NaN)) : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a size (e.g. 64MiB, 512KiB, or a number of bytes)` });
    return z.NEVER;
  }
  return bytes;
});
