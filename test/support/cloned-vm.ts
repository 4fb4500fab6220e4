/**
 * The set-up of the sync-shaped e2e files: hosta and hostb up, a two-disk VM
 * made on hosta and cloned to hostb under the same name, so each test starts
 * from a copy that matches its source. kvmctl gets one quick reconnect: an
 * agent such a file kills stays down, and the run should give up and revert
 * at once (reconnect.test.ts covers riding an outage out).
 */
import { upHosts } from './e2e-hosts.js';
import { cloneToHostb, ONE_QUICK_RETRY, writeKvmctlConfig } from './kvmctl.js';
import { makeTwoDiskVm } from './two-disk-vm.js';

/** Brings the hosts up for `name`, makes `vm` on hosta with `sizes` and clones it to hostb; returns the state directory. */
export async function upWithClonedVm(name: string, vm: string, sizes: { rawGiB: number; dataMiB: number }): Promise<string> {
  const state = await upHosts(name);
  await writeKvmctlConfig(state, ONE_QUICK_RETRY);
  await makeTwoDiskVm('hosta', vm, sizes);
  await cloneToHostb(vm, state);
  return state;
}
