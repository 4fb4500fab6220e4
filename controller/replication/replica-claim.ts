/**
 * Failover, failback and test failovers hold the replica's claim for as long
 * as they run, like a `kvmctl replicate` run does: the timer's replicate
 * then skips the replica (busy) instead of syncing into a copy that is being
 * started, or out of one that is being failed back.
 */
import { hostname } from 'node:os';
import { failedPrecondition } from '../../shared/errors.js';
import { currentProcess } from './process-identity.js';
import type { ReplicaStore } from './replica-store.js';

/** Runs `work` holding `name`'s claim; FAILED_PRECONDITION (exit 3) names the process that holds it. */
export async function withReplicaClaim<T>(replicas: ReplicaStore, name: string, work: () => Promise<T>): Promise<T> {
  const owner = currentProcess();
  const claim = replicas.claim(name, owner);
  if (!claim.claimed) {
    const where = claim.holder.host === hostname() ? `pid ${claim.holder.pid}` : `${claim.holder.host} pid ${claim.holder.pid}`;
    throw failedPrecondition(`replica ${name} is busy: kvmctl ${where} has run it since ${claim.holder.at}; try again when it is done`);
  }
  try {
    return await work();
  } finally {
    replicas.release(name, owner);
  }
}
