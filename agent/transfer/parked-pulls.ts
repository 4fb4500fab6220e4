/**
 * In-place pulls cut short by a dropped connection, kept for the retry.
 *
 * When the controller's SSH connection drops (the call is cancelled) or the
 * path to the source agent breaks in the middle of an in-place pull, the
 * journal written so far is sound: every record in it was checked against
 * its hash, and nothing has touched the image. The controller reconnects
 * within seconds and sends the same pull again (same operation id, same
 * ranges); instead of discarding those records and fetching them again, the
 * pull is parked here — journal, held image and directory, coverage — and the
 * retry continues it, asking the source only for what is missing
 * (issue 11: "the journal already on the destination is reused").
 *
 * Only FILE-layer pulls (offline syncs) are parked: kvmctl does not retry a
 * live sync within the run, so a guest-layer journal is discarded at once.
 *
 * Parking holds the journal's lock. It ends, whichever comes first, when the
 * same operation resumes it, when any other pull into the image arrives (the
 * parked one is dropped: no call is running for it, and a user's rerun after
 * a Ctrl-C must not wait), after `PARK_MS` (15 s), or at agent shutdown. Dropping
 * discards the journal; the image was never touched.
 */
import type { Logger } from 'pino';

/**
 * How long a parked pull waits for its retry. kvmctl's first reconnects come
 * within seconds (1-2 s, then 2-4 s, then 4-8 s by default), which is when a
 * dropped connection is usually back; a longer outage costs the journal (its
 * ranges are fetched again, still correct). Short on purpose: a controller
 * that died instead (kill -9, a lost laptop) never comes back, and until the
 * window ends the image's journal lock is held by nobody's operation — the
 * fault matrix counts that as a leftover (kvmctl-kill on a sync).
 */
export const PARK_MS = 15_000;

/** What a parked pull holds; `drop` releases it all (journal discarded, descriptors closed). */
export interface ParkedPull<T> {
  readonly operationId: string;
  readonly state: T;
  drop(): Promise<void>;
}

/** The parked pulls of one agent, by target path. */
export class ParkedPulls<T> {
  private readonly byTarget = new Map<string, { pull: ParkedPull<T>; timer: NodeJS.Timeout }>();

  constructor(
    private readonly log: Logger,
    private readonly parkMs: number = PARK_MS,
  ) {}

  /** Parks `pull` for `target` (a pull already parked there is dropped first). */
  async park(target: string, pull: ParkedPull<T>): Promise<void> {
    await this.dropTarget(target, 'replaced by a newer parked pull');
    const timer = setTimeout(() => {
      void this.dropTarget(target, `no retry came within ${Math.round(this.parkMs / 1000)} s`);
    }, this.parkMs);
    timer.unref();
    this.byTarget.set(target, { pull, timer });
    this.log.info({ target, operationId: pull.operationId, parkSeconds: Math.round(this.parkMs / 1000) }, 'in-place pull interrupted: its journal is kept for the retry');
  }

  /**
   * Hands the parked pull of `target` to a new pull of `operationId`: its
   * state when the operation is the same, else undefined after dropping it.
   */
  async take(target: string, operationId: string): Promise<T | undefined> {
    const entry = this.byTarget.get(target);
    if (entry === undefined) return undefined;
    if (operationId === '' || entry.pull.operationId !== operationId) {
      await this.dropTarget(target, `a pull of another operation (${operationId || 'none'}) arrived`);
      return undefined;
    }
    clearTimeout(entry.timer);
    this.byTarget.delete(target);
    return entry.pull.state;
  }

  /** Number of parked pulls (for tests and logs). */
  get size(): number {
    return this.byTarget.size;
  }

  /** Drops every parked pull (agent shutdown). */
  async dropAll(reason: string): Promise<void> {
    await Promise.all([...this.byTarget.keys()].map((target) => this.dropTarget(target, reason)));
  }

  private async dropTarget(target: string, reason: string): Promise<void> {
    const entry = this.byTarget.get(target);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.byTarget.delete(target);
    this.log.info({ target, operationId: entry.pull.operationId, reason }, 'parked in-place pull dropped: its journal is discarded, the image was not touched');
    await entry.pull.drop().catch((err: unknown) => this.log.warn({ target, err: String(err) }, 'dropping a parked pull failed'));
  }
}
