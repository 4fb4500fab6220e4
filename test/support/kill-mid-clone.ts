/**
 * A controller killed with SIGKILL in the middle of a clone's data disk, as
 * a crash or an OOM kill would end it: what resume and gc are tested after.
 */
import assert from 'node:assert/strict';
import { startKvmctl } from './kvmctl.js';

/** Starts kvmctl with `args` and SIGKILLs it once the data disk (vdb) has passed 1200 MiB. */
export async function killMidClone(args: string[], stateDir: string): Promise<void> {
  const first = startKvmctl(args, { stateDir });
  let killed = false;
  first.onEvent((e) => {
    if (!killed && e.type === 'progress' && e.item === 'vdb' && Number(e.bytesDone) > 1200 * 1024 * 1024) {
      killed = true;
      first.child.kill('SIGKILL');
    }
  });
  await first.done;
  assert.ok(killed, 'the controller was killed during the transfer');
}
