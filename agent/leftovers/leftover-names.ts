/**
 * Recognising leftovers by their names. Every file kvmclone leaves beside an
 * image or in its runtime directory has a name only it makes; this module is
 * the one place that reads those names back — which kind a file is, and the
 * operation id where the name carries one (peer sockets, scratch files and
 * backup sockets are named after their operation; staging files and journals
 * record it in an attribute, operation-xattr.ts).
 */

import { parseRestorePointName } from '../transfer/restore-point-files.js';

/** The kinds of leftovers, as the wire names them without the prefix. */
export type LeftoverKind = 'staging' | 'journal' | 'peer-socket' | 'scratch' | 'backup-socket' | 'lock';

/** What a name says about a file. */
export interface ParsedLeftoverName {
  readonly kind: Exclude<LeftoverKind, 'lock'>;
  /** From the name itself; '' when the name does not carry one. */
  readonly operationId: string;
  /** Staging files and journals: the image (in the same directory) they belong to. */
  readonly image?: string;
  /** Staging files: the staging id. */
  readonly stagingId?: string;
}

const ID = '[a-z0-9][a-z0-9-]{7,63}';
const STAGING = /^\.(.+)\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.kvmclone-staging$/;
const JOURNAL = /^\.(.+)\.kvmclone-journal$/;
const PEER = new RegExp(`^peer-(${ID})\\.sock$`);
const SCRATCH = new RegExp(`^\\.kvmclone-scratch\\.(${ID})\\.([a-z0-9]+)\\.qcow2$`);
const BACKUP = new RegExp(`^backup-(${ID})\\.sock$`);

/** Where a name was found: an image directory, the forward directory, the scratch directory or the live socket directory. */
export type LeftoverPlace = 'image-dir' | 'forward-dir' | 'scratch-dir' | 'live-dir';

/**
 * Parses one directory entry's name found in `place`; undefined for anything
 * kvmclone does not make there (images, other tools' files), which is never
 * listed nor touched.
 */
export function parseLeftoverName(name: string, place: LeftoverPlace): ParsedLeftoverName | undefined {
  if (place === 'image-dir') {
    // Restore points are kept data and a pending undo is settled with its journal: neither is ever a leftover.
    if (parseRestorePointName(name) !== undefined) return undefined;
    const s = STAGING.exec(name);
    if (s) return { kind: 'staging', operationId: '', image: s[1], stagingId: s[2] };
    const j = JOURNAL.exec(name);
    if (j) return { kind: 'journal', operationId: '', image: j[1] };
    // The scratch directory may be an image directory too.
    const c = SCRATCH.exec(name);
    return c ? { kind: 'scratch', operationId: c[1] } : undefined;
  }
  if (place === 'forward-dir') {
    const p = PEER.exec(name);
    return p ? { kind: 'peer-socket', operationId: p[1] } : undefined;
  }
  if (place === 'scratch-dir') {
    const c = SCRATCH.exec(name);
    return c ? { kind: 'scratch', operationId: c[1] } : undefined;
  }
  const b = BACKUP.exec(name);
  return b ? { kind: 'backup-socket', operationId: b[1] } : undefined;
}
