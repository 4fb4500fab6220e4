/**
 * Finds what operations left on this host: staging files and sync journals
 * in each image root and one directory level below (where images live, as
 * start-up journal recovery searches), peer sockets in the forward
 * directory, backup scratch files in the scratch directory, backup NBD
 * sockets in the runtime directory, and the locks held now. Each comes with
 * its operation id, age, size, whether it is running, and — for journals —
 * whether it is committed. Reads only.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errnoCode } from '../../shared/errors.js';
import { liveSocketDir } from '../live/scratch-files.js';
import type { LiveViews } from '../live/live-views.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { isListening } from '../server/socket-file.js';
import { TRAILER_BYTES, HEADER_BYTES, decodeTrailer } from '../transfer/journal-format.js';
import type { LockRegistry } from '../transfer/lock-registry.js';
import { flockedInodes, lockKeyOf, type LockKey } from './flocked-inodes.js';
import { parseLeftoverName, type LeftoverKind, type LeftoverPlace } from './leftover-names.js';
import { recordedOperation } from './operation-xattr.js';
import type { RunningOperations } from './running-operations.js';

/** One leftover as found. */
export interface FoundLeftover {
  readonly kind: LeftoverKind;
  /** Absolute path; a lock's VM name. */
  readonly path: string;
  /** The directory it is in and its name there (not for locks). */
  readonly dir: string;
  readonly name: string;
  readonly operationId: string;
  readonly ageSeconds: number;
  readonly running: boolean;
  readonly committed: boolean;
  readonly sizeBytes: number;
  /** Staging files and journals: the image they belong to (same directory). */
  readonly image?: string;
}

/** Where to look, and what says "running". */
export interface LeftoverScope {
  readonly roots: ImageRoots;
  readonly forwardDir: string;
  readonly scratchDir: string;
  readonly runtimeDir: string;
  readonly operations: RunningOperations;
  readonly views: LiveViews;
  readonly locks: LockRegistry;
  readonly log: Logger;
}

/** Each root and the directories directly inside it (never through a symlink). */
async function imageDirectories(root: string): Promise<string[]> {
  const dirs = [root];
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) dirs.push(join(root, e.name));
  return dirs;
}

/** True when the journal at `path` ends with a commit trailer (cheap: the full check is recovery's). */
export async function journalLooksCommitted(path: string, size: number): Promise<boolean> {
  if (size < HEADER_BYTES + TRAILER_BYTES) return false;
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (fh === undefined) return false;
  try {
    const buf = Buffer.alloc(TRAILER_BYTES);
    const { bytesRead } = await fh.read(buf, 0, TRAILER_BYTES, size - TRAILER_BYTES);
    return bytesRead === TRAILER_BYTES && decodeTrailer(buf) !== undefined;
  } finally {
    await fh.close();
  }
}

/** The ids of the operations running here: open operation calls and open live views. */
function runningIds(scope: LeftoverScope): Set<string> {
  return new Set([...scope.operations.ids(), ...scope.views.list().map((v) => v.operationId)]);
}

async function inspect(
  scope: LeftoverScope,
  dir: string,
  name: string,
  place: LeftoverPlace,
  running: Set<string>,
  locked: Set<LockKey>,
  now: number,
): Promise<FoundLeftover | undefined> {
  const parsed = parseLeftoverName(name, place);
  if (parsed === undefined) return undefined;
  const path = join(dir, name);
  let st;
  try {
    st = await lstat(path, { bigint: true });
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') scope.log.warn({ path, err }, 'cannot look at a leftover');
    return undefined;
  }
  const isSocket = parsed.kind === 'peer-socket' || parsed.kind === 'backup-socket';
  // A symlink or a directory under a leftover's name is not ours: never listed, never touched.
  if (isSocket ? !st.isSocket() : !st.isFile()) return undefined;
  const operationId = parsed.operationId !== '' ? parsed.operationId : recordedOperation(path);
  let inUse = running.has(operationId);
  if (parsed.kind === 'staging' || parsed.kind === 'journal') inUse ||= locked.has(lockKeyOf(st.dev, st.ino));
  if (parsed.kind === 'peer-socket' && !inUse) inUse = await isListening(path);
  const size = Number(st.size);
  const committed = parsed.kind === 'journal' && (await journalLooksCommitted(path, size));
  return {
    kind: parsed.kind,
    path,
    dir,
    name,
    operationId,
    ageSeconds: Math.max(0, (now - Number(st.mtimeMs)) / 1000),
    running: inUse,
    committed,
    sizeBytes: isSocket ? 0 : Number(st.blocks) * 512,
    ...(parsed.image === undefined ? {} : { image: join(dir, parsed.image) }),
  };
}

/** Lists every leftover in scope, images' first, then sockets, scratch files and locks. */
export async function scanLeftovers(scope: LeftoverScope, now = Date.now()): Promise<FoundLeftover[]> {
  const running = runningIds(scope);
  const locked = await flockedInodes();
  const places: [string, LeftoverPlace][] = [];
  for (const root of scope.roots.roots) for (const d of await imageDirectories(root)) places.push([d, 'image-dir']);
  places.push([scope.forwardDir, 'forward-dir'], [liveSocketDir(scope.runtimeDir), 'live-dir']);
  // The scratch directory is searched once, even when it is also an image directory.
  if (!places.some(([d]) => d === scope.scratchDir)) places.push([scope.scratchDir, 'scratch-dir']);
  const found: FoundLeftover[] = [];
  for (const [dir, place] of places) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') scope.log.warn({ dir, err }, 'cannot list a directory for leftovers');
      continue;
    }
    for (const name of names.sort()) {
      const f = await inspect(scope, dir, name, place, running, locked, now);
      if (f !== undefined) found.push(f);
    }
  }
  for (const l of scope.locks.list()) {
    found.push({
      kind: 'lock',
      path: l.vm,
      dir: '',
      name: l.vm,
      operationId: l.operationId,
      ageSeconds: Math.max(0, (now - l.since.getTime()) / 1000),
      running: true,
      committed: false,
      sizeBytes: 0,
    });
  }
  return found;
}
