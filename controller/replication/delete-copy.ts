/**
 * `kvmctl replica rm NAME --delete-copy`: removes the replica's copy from its
 * destination through the agent — the domain undefined and, as UndefineDomain
 * with STORAGE_POLICY_REMOVE decides, its disk images, NVRAM and TPM state
 * (never shared, read-only or backing files). Only a copy the replica made
 * (its first run succeeded) is removed: a VM of that name on a replica that
 * never ran is someone else's. A running copy is refused (it may have been
 * started as the service), and the copy's operation lock is held meanwhile,
 * so no sync writes into it as it goes.
 */
import { randomUUID } from 'node:crypto';
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import type { Reporter } from '../cli/reporter.js';
import type { ControllerOptions } from '../config/controller-config.js';
import { holdLock } from '../operations/hold-lock.js';
import { HostSession } from '../transport/host-session.js';
import type { SshEngine } from '../transport/ssh-engine.js';
import type { Replica } from './replica-store.js';

/** What was removed: nothing when the copy was already gone. */
export interface DeletedCopy {
  existed: boolean;
  removedPaths: string[];
}

/** Removes `replica`'s copy; FAILED_PRECONDITION when it never made one or it runs. */
export async function deleteCopy(replica: Replica, deps: { engine: SshEngine; options: ControllerOptions; reporter: Reporter; signal: AbortSignal }): Promise<DeletedCopy> {
  const { engine, options, reporter, signal } = deps;
  if (replica.seededAt === null) {
    throw failedPrecondition(
      `replica ${replica.name} never made its copy: ${replica.destVm} on ${replica.to}, if it exists, is not its copy and is left alone (remove the replica without --delete-copy)`,
    );
  }
  const operationId = randomUUID();
  const session = await HostSession.open(engine, replica.to, {
    agentSocket: options.agentSocket,
    callMs: options.timeouts.callMs,
    signal,
    needs: ['domain.describe', 'domain.undefine', 'transfer.lock'],
    operationId,
  });
  try {
    const held = await holdLock(session, replica.destVm, operationId, `delete the copy of replica ${replica.name}`);
    try {
      let state: string | undefined;
      try {
        state = (await session.call(session.clients.domain, session.clients.domain.describeDomain, { name: replica.destVm }, signal)).domain?.state;
      } catch (err) {
        if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return { existed: false, removedPaths: [] };
        throw err;
      }
      if (state !== 'DOMAIN_STATE_SHUTOFF') {
        throw failedPrecondition(
          `${replica.destVm} on ${replica.to} is ${(state ?? 'unknown').replace('DOMAIN_STATE_', '').toLowerCase()}: a running copy is not deleted (shut it down first, or remove the replica without --delete-copy)`,
        );
      }
      const { removedPaths } = await session.call(
        session.clients.domain,
        session.clients.domain.undefineDomain,
        { name: replica.destVm, storage: 'STORAGE_POLICY_REMOVE' },
        signal,
      );
      reporter.debug(`${replica.to}: undefined ${replica.destVm}, removed ${removedPaths.join(', ') || 'no file'}`);
      return { existed: true, removedPaths };
    } finally {
      held.release();
    }
  } finally {
    await session.close();
  }
}
