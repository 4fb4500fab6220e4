/**
 * Throttled progress (after incus' ioprogress): report when at least ~1 % of
 * a known total has moved since the last report, or at most once a second when
 * the total is unknown, and always at the end. Keeps NDJSON output and TTY
 * redraws cheap on a multi-gigabyte copy.
 */

/** Decides whether a progress update is worth reporting. */
export class ProgressThrottle {
  private lastBytes = -1;
  private lastAt = 0;

  constructor(
    private readonly total: number,
    private readonly minIntervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when `done` should be reported now. */
  shouldReport(done: number): boolean {
    const at = this.now();
    const final = this.total > 0 && done >= this.total;
    const step = this.total > 0 ? Math.max(1, Math.floor(this.total / 100)) : Infinity;
    const due = this.lastBytes < 0 || final || done - this.lastBytes >= step || at - this.lastAt >= this.minIntervalMs;
    if (due && done !== this.lastBytes) {
      this.lastBytes = done;
      this.lastAt = at;
      return true;
    }
    return false;
  }
}
