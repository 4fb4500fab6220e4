/**
 * What a testbed host holds, for tests that check an operation left nothing
 * behind (or changed nothing): its domains and the files in its images
 * directory, each sorted so before and after compare as lists.
 */
import { hostExec, IMAGES } from './testbed.js';

/** The names of every domain defined on `host`, running or not, sorted. */
export async function domains(host: string): Promise<string[]> {
  return (await hostExec(host, ['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']))
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
}

/** The names in the host's images directory, hidden ones included, sorted. */
export async function imageFiles(host: string): Promise<string[]> {
  return (await hostExec(host, ['ls', '-A', IMAGES])).split('\n').filter(Boolean).sort();
}

/** Runs `virsh -q` against `host`'s system libvirt; resolves with its output. */
export function virsh(host: string, args: string[]): Promise<string> {
  return hostExec(host, ['virsh', '-q', '-c', 'qemu:///system', ...args]);
}

/** The state virsh gives `vm` on `host` ("running", "shut off", ...). */
export async function domstate(host: string, vm: string): Promise<string> {
  return (await virsh(host, ['domstate', vm])).trim();
}
