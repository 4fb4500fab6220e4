/**
 * Takes an agent's operation lock on a VM name for the life of an operation.
 * The lock lives as long as the HoldLock call stays open, so cancelling the
 * call releases it, and a controller that dies cannot leave it behind.
 */
import type { ClientReadableStream } from '@grpc/grpc-js';
import { fromStatus } from '../../shared/from-status.js';
import type { HostSession } from '../transport/host-session.js';

/** A held lock. */
export interface HeldLock {
  release(): void;
  /** True once the call ended without `release` (the SSH connection dropped, the agent restarted): the lock is gone. */
  readonly lost: boolean;
}

/** Resolves once the lock is held; rejects with ABORTED when another operation holds it. */
export function holdLock(session: HostSession, vm: string, operationId: string, purpose: string): Promise<HeldLock> {
  const call: ClientReadableStream<unknown> = session.clients.transfer.holdLock({ vmName: vm, operationId, purpose });
  return new Promise((resolve, reject) => {
    call.once('data', () => {
      let released = false;
      let lost = false;
      // the cancel at release ends the call with CANCELLED; any other end means the agent no longer holds it
      call.on('error', () => (lost ||= !released));
      call.on('end', () => (lost ||= !released));
      resolve({
        release: () => {
          released = true;
          call.cancel();
        },
        get lost() {
          return lost;
        },
      });
    });
    call.once('error', (err) => reject(fromStatus(err, session.host)));
  });
}

/** Runs `work` holding the lock (holdLock) and releases it however `work` ends: the scope every locked step shares. */
export async function underLock<T>(session: HostSession, vm: string, operationId: string, purpose: string, work: () => Promise<T>): Promise<T> {
  const lock = await holdLock(session, vm, operationId, purpose);
  try {
    return await work();
  } finally {
    lock.release();
  }
}
