/**
 * Riding out a libvirtd restart. Operators restart libvirtd (package
 * upgrades, configuration changes) while VMs run and kvmclone works; it is
 * back within seconds, and QEMU processes are untouched. An agent call that
 * meets a dead connection or a socket that refuses is therefore tried again
 * — at once, then after growing pauses — for up to `waitMs`, and only then
 * fails UNAVAILABLE. A half-done clone step (a definition made, an undo that
 * could not run) would cost far more than the wait.
 *
 * A call that libvirtd had already carried out when the connection dropped
 * is carried out again: a definition of the same XML is a no-op, a start or
 * an undefine that already happened reports the domain's new state.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isLibvirtdGone } from './libvirt-errors.js';

/** How long a call waits for libvirtd to come back by default: a restart takes 1–5 s, a slow host's more. */
export const LIBVIRTD_WAIT_MS = 30_000;

/** Pauses between tries: the first retry is immediate (a fresh connection usually works at once). */
const PAUSES_MS = [0, 250, 500, 1000, 2000] as const;

/** How a wait is done and told about. */
export interface LibvirtdWaitOptions {
  /** Give up after this long (0: one retry at once, as for a dropped connection). */
  waitMs: number;
  signal?: AbortSignal | undefined;
  /** Called before each retry with the failure and the pause that follows. */
  onRetry?: (err: unknown, pauseMs: number, attempt: number) => void;
}

/** Runs `fn`, again while libvirtd is gone, within `options.waitMs`; the last failure is thrown. */
export async function whileLibvirtdRestarts<T>(fn: () => Promise<T>, options: LibvirtdWaitOptions): Promise<T> {
  const deadline = Date.now() + options.waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isLibvirtdGone(err)) throw err;
      const pauseMs = PAUSES_MS[Math.min(attempt, PAUSES_MS.length - 1)] ?? 0;
      if (attempt > 0 && Date.now() + pauseMs > deadline) throw err;
      options.onRetry?.(err, pauseMs, attempt + 1);
      if (pauseMs > 0) await sleep(pauseMs, undefined, { signal: options.signal });
    }
  }
}
