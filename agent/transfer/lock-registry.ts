/**
 * Operation locks: one clone or sync per VM name per host at a time. A lock
 * is held by an open HoldLock call and released when that call ends for any
 * reason, so a controller that dies cannot leave a stale lock behind.
 */
import { aborted, failedPrecondition } from '../../shared/errors.js';

interface Holder {
  operationId: string;
  purpose: string;
  since: Date;
}

/** In-memory locks of this agent, keyed by VM name. */
export class LockRegistry {
  private readonly held = new Map<string, Holder>();

  /** Takes the lock of `vm` or throws ABORTED naming who holds it; returns the release function. */
  acquire(vm: string, operationId: string, purpose: string): () => void {
    const current = this.held.get(vm);
    if (current) {
      throw aborted(`VM ${vm} is locked by operation ${current.operationId} (${current.purpose}) since ${current.since.toISOString()}`);
    }
    const holder: Holder = { operationId, purpose, since: new Date() };
    this.held.set(vm, holder);
    return () => {
      if (this.held.get(vm) === holder) this.held.delete(vm);
    };
  }

  /**
   * Enforces the lock on calls that change `vm` outside the transfer (its
   * definition, its start): refused with FAILED_PRECONDITION naming the
   * holder, unless the call says it is part of that same operation.
   */
  requireFree(vm: string, operationId: string, action: string): void {
    const current = this.held.get(vm);
    if (current === undefined || (operationId !== '' && operationId === current.operationId)) return;
    throw failedPrecondition(
      `cannot ${action} domain '${vm}': operation ${current.operationId} (${current.purpose}) holds it since ${current.since.toISOString()}; wait for it to finish`,
    );
  }

  /** The locks held now (ListLeftovers reports them beside the files operations leave). */
  list(): { vm: string; operationId: string; purpose: string; since: Date }[] {
    return [...this.held].map(([vm, h]) => ({ vm, operationId: h.operationId, purpose: h.purpose, since: h.since }));
  }

  /** Whether `vm` is locked (tests and diagnostics). */
  isLocked(vm: string): boolean {
    return this.held.has(vm);
  }
}
