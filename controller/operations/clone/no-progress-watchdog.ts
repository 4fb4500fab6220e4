/**
 * The no-progress watchdog of a pull (timeouts.no_progress): a stream that
 * stops reporting is cancelled instead of hanging the operation. Each
 * progress report re-arms it; the pull's end stops it.
 */

/** A timer restarted by each sign of progress. */
export interface NoProgressWatchdog {
  /** (Re)starts the countdown: call it when the work starts and at each progress report. */
  arm(): void;
  /** Stops the countdown for good (the work ended, either way). */
  stop(): void;
}

/**
 * A watchdog that calls `onStall` once `ms` milliseconds pass without
 * `arm()` being called again. It does not start counting until the first
 * `arm()`.
 */
export function noProgressWatchdog(ms: number, onStall: () => void): NoProgressWatchdog {
  let timer: NodeJS.Timeout | undefined;
  return {
    arm(): void {
      clearTimeout(timer);
      timer = setTimeout(onStall, ms);
    },
    stop(): void {
      clearTimeout(timer);
    },
  };
}
