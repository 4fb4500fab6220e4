/**
 * The throwaway libvirtd (../libvirt-sandbox.sh: libvirtd in a private mount
 * namespace) as the integration tests that need a real libvirt use it: what
 * it needs on the machine, bringing it up and down, and the check that it
 * left no process behind. One copy, so every such test skips, starts and
 * cleans up the same way.
 */
import assert from 'node:assert/strict';
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFile = promisify(execFileCb);
// dist/test/integration/support/ → the sources (tsc copies neither shell scripts nor fixtures)
const SANDBOX = fileURLToPath(new URL('../../../../test/integration/libvirt-sandbox.sh', import.meta.url));

/** A 512-byte boot sector that prints "HI" on the serial port: a guest that boots in any QEMU, TCG included. */
export const BOOT_SECTOR = fileURLToPath(new URL('../../../../test/testbed/boot-sector.bin', import.meta.url));

/** Why the sandbox cannot run here (not root, or a tool missing: the sandbox's own, then `extraTools`), or undefined when it can; a test's `skip` option. */
export function missingSandboxPrerequisite(extraTools: readonly string[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (libvirtd in a private mount namespace)';
  for (const tool of ['libvirtd', 'virsh', 'qemu-img', 'qemu-system-x86_64', 'unshare', 'nsenter', ...extraTools]) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return undefined;
}

/** Brings a sandbox up in `dir`; resolves with its libvirt URI. */
export async function sandboxUp(dir: string): Promise<string> {
  return (await execFile('bash', [SANDBOX, 'up', dir], { timeout: 180_000 })).stdout.trim();
}

/** Takes the sandbox in `dir` down: destroys the domains, then stops libvirtd, virtlogd and anything left in the namespace. */
export async function sandboxDown(dir: string): Promise<void> {
  await execFile('bash', [SANDBOX, 'down', dir], { timeout: 120_000 });
}

/** Restarts the sandbox's libvirtd in `dir`, down for `downSeconds` in between (the script's default when absent). */
export async function sandboxRestart(dir: string, downSeconds?: number): Promise<void> {
  const env = downSeconds === undefined ? process.env : { ...process.env, DOWN_SECONDS: String(downSeconds) };
  await execFile('bash', [SANDBOX, 'restart', dir], { timeout: 120_000, env });
}

/** PIDs of processes whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(Number(entry));
  }
  return found;
}

/** Takes the sandbox in `dir` down, removes `tmp` (the test's directory, `dir` inside it) and fails when a process that mentions `tmp` is left behind. */
export async function sandboxDownLeavingNothing(dir: string, tmp: string): Promise<void> {
  await sandboxDown(dir);
  const left = await processesMentioning(tmp);
  await rm(tmp, { recursive: true, force: true });
  assert.deepEqual(left, [], `processes left behind: ${left.join(', ')}`);
}
