/**
 * Which operations are running on this agent right now: an operation runs
 * while one of the calls that hold its state is open — a PullImage or
 * WriteRanges writing its files, a HoldLock holding its VM, an OpenLiveView
 * keeping its backup job, an OpenTicket letting its peer read. The rpc
 * wrappers (agent/rpc/handlers.ts) register each such call for its
 * lifetime, so the answer cannot drift from what is really open; the
 * leftover scan asks it before it calls anything an orphan.
 */

/** Methods whose open call means "this operation is running here". */
export const OPERATION_HOLDING_METHODS: ReadonlySet<string> = new Set([
  '/kvmclone.agent.v1.TransferService/PullImage',
  '/kvmclone.agent.v1.TransferService/HoldLock',
  '/kvmclone.agent.v1.TransferService/OpenLiveView',
  '/kvmclone.agent.v1.TransferService/OpenTicket',
  '/kvmclone.agent.v1.DiskService/WriteRanges',
]);

/** Open operation-holding calls, counted per operation id. */
export class RunningOperations {
  private readonly open = new Map<string, number>();

  /**
   * Registers one open call of `method` for `operationId`; returns the
   * function that ends it (idempotent). Calls of other methods, or without
   * an id, register nothing.
   */
  enter(method: string, operationId: string | null): () => void {
    if (operationId === null || operationId === '' || !OPERATION_HOLDING_METHODS.has(method)) return () => undefined;
    this.open.set(operationId, (this.open.get(operationId) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const n = (this.open.get(operationId) ?? 1) - 1;
      if (n <= 0) this.open.delete(operationId);
      else this.open.set(operationId, n);
    };
  }

  /** Whether a call of `operationId` is open. */
  has(operationId: string): boolean {
    return operationId !== '' && this.open.has(operationId);
  }

  /** The ids of the running operations. */
  ids(): string[] {
    return [...this.open.keys()];
  }
}
