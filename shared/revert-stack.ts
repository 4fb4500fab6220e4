/**
 * A revert stack for multi-step mutations (after incus' shared/revert): each
 * step that creates something pushes how to undo it; on failure or Ctrl-C the
 * undos run in reverse order; `success()` clears the stack once the work is
 * committed. Every undo runs even if an earlier one fails, and their failures
 * are reported together — a half-undone clone is worse than a loud one.
 */

/** One undo step: a description for logs and the function that undoes. */
interface RevertStep {
  description: string;
  undo: () => Promise<void>;
}

/** What `revert()` could not undo. */
export interface RevertFailure {
  description: string;
  error: unknown;
}

/** Collects undo steps and runs them in reverse on failure. */
export class RevertStack {
  private steps: RevertStep[] = [];

  /** Registers how to undo the step just done. */
  push(description: string, undo: () => Promise<void>): void {
    this.steps.push({ description, undo });
  }

  /** Number of pending undo steps. */
  get size(): number {
    return this.steps.length;
  }

  /** The work is committed: nothing will be undone. */
  success(): void {
    this.steps = [];
  }

  /**
   * Undoes everything, newest first; returns the steps that failed (empty when all undid cleanly).
   * @param run how each undo is called (e.g. again after a reconnect when its host dropped); directly by default
   */
  async revert(onStep?: (description: string) => void, run: (undo: () => Promise<void>) => Promise<void> = (undo) => undo()): Promise<RevertFailure[]> {
    const failures: RevertFailure[] = [];
    const steps = this.steps.reverse();
    this.steps = [];
    for (const step of steps) {
      onStep?.(step.description);
      try {
        await run(step.undo);
      } catch (error) {
        failures.push({ description: step.description, error });
      }
    }
    return failures;
  }
}
