/**
 * Field types shared by the agent's and the controller's config schemas, so
 * both files accept the same spellings and report the same messages.
 */
import { z } from 'zod';
import { checkAbsolutePath } from '../validation.js';
import { durationMs } from './config-file.js';

/** "10s", "500ms", "2m", "1h" or a number of seconds, compiled to milliseconds. */
export const durationField = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = durationMs(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a duration (e.g. 10s, 500ms, 2m)` });
    return z.NEVER;
  }
  return ms;
});

/** An absolute path in normal form (no `.` or `..` segments). */
export const absolutePathField = z.string().superRefine((value, ctx) => {
  try {
    checkAbsolutePath(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message.replace(/^path: /, '') : String(err) });
  }
});
