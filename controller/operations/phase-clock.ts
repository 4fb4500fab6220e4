/**
 * Where an operation's time went: the seconds spent in each of its phases
 * (preflight, plan, transfer, verify, define, …), for the result line and
 * `kvmctl ops show`. Users ask where the time goes; so do benchmarks.
 */

/** Seconds per phase, lowercase phase names, in the order they first began. */
export type PhaseSeconds = Record<string, number>;

/** Times the phases of one run; a phase entered twice (a retry) adds up. */
export class PhaseClock {
  private current: { name: string; since: number } | undefined;
  private readonly spent = new Map<string, number>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Ends the phase running (if any) and begins `name`. */
  begin(name: string): void {
    const at = this.now();
    this.close(at);
    const key = name.toLowerCase();
    if (!this.spent.has(key)) this.spent.set(key, 0);
    this.current = { name: key, since: at };
  }

  /** Seconds per phase so far, the running one up to now, to a hundredth. */
  seconds(): PhaseSeconds {
    const at = this.now();
    const out: PhaseSeconds = {};
    for (const [name, ms] of this.spent) {
      const running = this.current?.name === name ? at - this.current.since : 0;
      out[name] = Math.round((ms + running) / 10) / 100;
    }
    return out;
  }

  private close(at: number): void {
    if (this.current === undefined) return;
    this.spent.set(this.current.name, (this.spent.get(this.current.name) ?? 0) + (at - this.current.since));
    this.current = undefined;
  }
}
