/**
 * The operation a staging file or sync journal belongs to, kept as an
 * extended attribute (`user.kvmclone.operation`) on the file itself.
 *
 * A staging file's name holds a random staging id and a journal's name only
 * its image, so neither said which operation made it — and `kvmctl hosts
 * check` / `kvmctl gc` must name the operation of every leftover. An
 * attribute is the compatible place: the names, the journal format and every
 * reader stay as they were, a file made by an older agent simply has none
 * (its operation id is reported empty), and a filesystem without user
 * attributes costs nothing but that id.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { fsetxattr, lgetxattr } from '../native/libc.js';

/** Name of the attribute. */
export const OPERATION_XATTR = 'user.kvmclone.operation';

/** Longest operation id recorded (longer ones are not recorded at all rather than cut). */
const MAX_ID_BYTES = 128;

/**
 * Records `operationId` on the open file. Best effort: a filesystem that keeps
 * no user attributes, or no id (a caller outside any operation), leaves the
 * file without one and the write goes on — the attribute only names, it
 * never decides whether data is kept.
 */
export function recordOperation(fh: FileHandle, operationId: string | null | undefined, log?: Logger): void {
  if (operationId === null || operationId === undefined || operationId === '' || Buffer.byteLength(operationId) > MAX_ID_BYTES) return;
  try {
    fsetxattr(fh.fd, OPERATION_XATTR, Buffer.from(operationId, 'utf8'));
  } catch (err) {
    log?.debug({ err }, 'operation id not recorded on the file (the filesystem keeps no user attributes)');
  }
}

/** The operation id recorded on `path` (never following a symlink there), or '' when none is. */
export function recordedOperation(path: string): string {
  try {
    return lgetxattr(path, OPERATION_XATTR, MAX_ID_BYTES)?.toString('utf8') ?? '';
  } catch {
    return '';
  }
}
