/**
 * Whether a VM's name is locked on the local agent, asked the only way the
 * controller can: another operation on it (a sync of the VM onto itself on
 * h1, through a LocalSshEngine) is refused ABORTED. The tests of which
 * sessions take locks and of locks held across a reconnect use it.
 */
import { KvmcloneError } from '../../../shared/errors.js';
import { OperationRun, type OperationDeps } from '../../../controller/operations/operation-run.js';
import { LocalSshEngine } from './local-ssh-engine.js';

/** True when an operation on `vm` made with `deps` (its engine replaced by a fresh LocalSshEngine) is refused the lock. */
export async function isVmLocked(deps: Omit<OperationDeps, 'engine'>, vm: string): Promise<boolean> {
  const probe = new OperationRun({ ...deps, engine: new LocalSshEngine() }, { kind: 'sync', vm, destVm: vm, from: 'h1', to: 'h1' });
  try {
    return await probe.openHosts([]).then(
      () => false,
      (err: unknown) => err instanceof KvmcloneError && err.code === 'ABORTED',
    );
  } finally {
    await probe.close();
  }
}
