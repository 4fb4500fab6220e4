/**
 * What libvirt failures look like as they reach the agent, before
 * libvirt-errors.ts tells them apart: the binding's LibvirtError, virsh's
 * `error: ` lines, the KvmcloneError the port wraps them in, and the message
 * texts that carry no error number of their own.
 */
import { KvmcloneError } from '../../shared/errors.js';

/**
 * How the connection to libvirtd reads when it is gone or never came (system and RPC errors carry no prefix).
 * "Disconnected from qemu:///system due to end of file: ..." is what a call in flight gets while libvirtd
 * restarts (seen at a backup's begin in the fault matrix).
 */
export const CONNECTION_LOST =
  /^(Failed to connect socket|Cannot (recv|write) data|End of file while (reading|writing) data|internal error: client socket is closed|unable to connect to server|failed to connect to the hypervisor|Disconnected from \S+ due to)/;

/** "operation failed: domain moment NAME already exists" (a checkpoint or snapshot of that name exists). */
export const CHECKPOINT_EXISTS = /domain moment \S+ already exists/;

/** Shape of @unraid/libvirt's LibvirtError, checked structurally so this module does not load the binding. */
export function isBindingError(err: unknown): err is Error & { code: number } {
  return err instanceof Error && err.name === 'LibvirtError' && typeof (err as { code?: unknown }).code === 'number';
}

/** The libvirt message lines of virsh's stderr (`error: ` stripped), libvirt's own line last. */
export function virshErrorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('error: '))
    .map((l) => l.slice('error: '.length));
}

/** The libvirt failure under `err`: `err` itself, or the cause of the KvmcloneError(s) wrapping it. */
export function libvirtCause(err: unknown): unknown {
  let e = err;
  for (let i = 0; i < 4 && e instanceof KvmcloneError; i++) e = e.cause;
  return e;
}
