/**
 * RemoveLeftovers: scans, decides each leftover (leftover-decision.ts) and
 * removes what may go. Each removal re-checks under the same guard the
 * owner uses, so a scan that raced with an operation starting cannot take
 * its files: a staging file or journal is removed only while this call holds
 * its flock (a writer holding it makes it "in use", kept), a journal is
 * checked for a commit trailer again under that lock, a peer socket only
 * when nobody listens on it, a scratch file or NBD socket only when no open
 * view is its operation's. Staging files and journals are reached through
 * their directory opened beneath the image roots (agent/paths/open-beneath.ts).
 */
import { constants } from 'node:fs';
import { unlink, type FileHandle } from 'node:fs/promises';
import { errnoCode, KvmcloneError } from '../../shared/errors.js';
import { lockExclusive } from '../disk/staging-file.js';
import { openDirectory } from '../paths/open-beneath.js';
import type { ConfinedDir } from '../paths/confined-dir.js';
import { isListening } from '../server/socket-file.js';
import { removePeerSocket } from '../server/forward-dir.js';
import { TRAILER_BYTES, decodeTrailer } from '../transfer/journal-format.js';
import { openJournalLockedIn } from '../transfer/journal-file.js';
import { decideLeftover } from './leftover-decision.js';
import { scanLeftovers, type FoundLeftover, type LeftoverScope } from './scan-leftovers.js';

/** One leftover with the decision taken about it. */
export interface DecidedLeftover extends FoundLeftover {
  /** Empty when it was (or, dry run, would be) removed. */
  readonly keepReason: string;
}

/** What RemoveLeftovers did. */
export interface RemovalReport {
  readonly removed: DecidedLeftover[];
  readonly kept: DecidedLeftover[];
}

/** Lists every leftover with what RemoveLeftovers would do with it at `minAgeSeconds`. */
export async function listLeftovers(scope: LeftoverScope, minAgeSeconds = 0): Promise<DecidedLeftover[]> {
  return (await scanLeftovers(scope)).map((f) => {
    const d = decideLeftover(f, minAgeSeconds);
    return { ...f, keepReason: d.remove ? '' : d.reason };
  });
}

/** True when the directory entry `name` of `dir` still names the inode open in `fh`. */
async function stillNamed(fh: FileHandle, dir: ConfinedDir, name: string): Promise<boolean> {
  const held = await fh.stat({ bigint: true });
  const named = dir.identity(name);
  return named !== undefined && named.dev === held.dev && named.ino === held.ino;
}

/** Runs `fn` with the leftover's directory held open beneath the roots. */
async function inDirectory<T>(scope: LeftoverScope, f: FoundLeftover, fn: (dir: ConfinedDir) => Promise<T>): Promise<T> {
  const dir = await openDirectory(scope.roots, f.dir, 'path');
  try {
    return await fn(dir);
  } finally {
    dir.close();
  }
}

/** Removes a staging file under its flock; returns the reason to keep it instead, or '' when removed. */
async function removeStaging(scope: LeftoverScope, f: FoundLeftover): Promise<string> {
  return inDirectory(scope, f, async (dir) => {
    let fh: FileHandle;
    try {
      fh = await dir.openFile(f.name, constants.O_RDONLY, 'path');
    } catch (err) {
      if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return '';
      throw err;
    }
    try {
      await lockExclusive(fh, `staging file ${f.path}`);
      if (!(await stillNamed(fh, dir, f.name))) return 'it was replaced while it was looked at';
      dir.unlink(f.name);
      await dir.sync();
      return '';
    } catch (err) {
      if (err instanceof KvmcloneError && err.code === 'ABORTED') return 'it is in use (a write, commit or abort holds it)';
      throw err;
    } finally {
      await fh.close();
    }
  });
}

/** Removes an uncommitted journal under its flock; a journal committed by now is kept. */
async function removeJournal(scope: LeftoverScope, f: FoundLeftover): Promise<string> {
  return inDirectory(scope, f, async (dir) => {
    let fh: FileHandle | undefined;
    try {
      fh = await openJournalLockedIn(dir, f.name, f.image ?? f.path);
    } catch (err) {
      if (err instanceof KvmcloneError && err.code === 'ABORTED') return 'it is in use (a pull or recovery holds it)';
      throw err;
    }
    if (fh === undefined) return '';
    try {
      const { size } = await fh.stat();
      const trailer = Buffer.alloc(TRAILER_BYTES);
      if (size >= TRAILER_BYTES && (await fh.read(trailer, 0, TRAILER_BYTES, size - TRAILER_BYTES)).bytesRead === TRAILER_BYTES && decodeTrailer(trailer) !== undefined) {
        return 'it was committed meanwhile: it will be applied at the next sync or agent start';
      }
      dir.unlink(f.name);
      await dir.sync();
      return '';
    } finally {
      await fh.close();
    }
  });
}

/** Removes one leftover the decision let go; returns why it stayed after all, or ''. */
async function removeOne(scope: LeftoverScope, f: FoundLeftover): Promise<string> {
  switch (f.kind) {
    case 'staging':
      return removeStaging(scope, f);
    case 'journal':
      return removeJournal(scope, f);
    case 'peer-socket':
      if (scope.operations.has(f.operationId) || (await isListening(f.path))) return 'someone listens on it now';
      await removePeerSocket(f.path, scope.forwardDir);
      return '';
    case 'scratch':
    case 'backup-socket':
      if (scope.operations.has(f.operationId) || scope.views.list().some((v) => v.operationId === f.operationId)) return `operation ${f.operationId} opened a live view meanwhile`;
      await unlink(f.path).catch((err: unknown) => (errnoCode(err) === 'ENOENT' ? undefined : Promise.reject(err)));
      return '';
    case 'lock':
      return 'a lock ends with its call';
  }
}

/**
 * Removes the leftovers of operations that are not running, at least
 * `minAgeSeconds` old; with `dryRun` only reports. A leftover that cannot be
 * removed (an I/O error) is kept with the error as its reason: the rest go on.
 */
export async function removeLeftovers(scope: LeftoverScope, minAgeSeconds: number, dryRun: boolean): Promise<RemovalReport> {
  const removed: DecidedLeftover[] = [];
  const kept: DecidedLeftover[] = [];
  for (const f of await listLeftovers(scope, minAgeSeconds)) {
    if (f.keepReason !== '' || dryRun) {
      (f.keepReason === '' ? removed : kept).push(f);
      continue;
    }
    let reason: string;
    try {
      reason = await removeOne(scope, f);
    } catch (err) {
      reason = `could not be removed: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (reason === '') {
      removed.push(f);
      scope.log.info({ kind: f.kind, path: f.path, operationId: f.operationId, ageSeconds: Math.round(f.ageSeconds) }, 'leftover removed');
    } else kept.push({ ...f, keepReason: reason });
  }
  return { removed, kept };
}
