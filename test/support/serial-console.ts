/**
 * A test guest's serial console as the host logs it: the boot sector the
 * testbed's VMs boot from prints HI there, which is how a test knows a copy
 * really boots.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { E2E_DIR } from './testbed.js';

/**
 * The serial log of `vm` on `host` once it contains `word`, or as it is after
 * 100 looks `everyMs` apart; the caller asserts on it, so a failure shows
 * what the guest did print.
 */
export async function serialOutput(host: string, vm: string, word: string, everyMs = 100): Promise<string> {
  const serial = join(E2E_DIR, host, 'var-log-libvirt', 'qemu', `${vm}-serial.log`);
  let text = '';
  for (let i = 0; i < 100 && !text.includes(word); i += 1) {
    await sleep(everyMs);
    text = await readFile(serial, 'utf8').catch(() => '');
  }
  return text;
}
