/**
 * The live views this agent holds open: one per OpenLiveView call, each a
 * libvirt backup job whose NBD server exports every disk as it was when the
 * job began (or, for a shut-off domain, one read-only qemu-nbd per disk). DiskService calls on a view path (view-path.ts) find their
 * export here; a view is removed when its OpenLiveView call ends, so a read
 * can never reach an export whose job is over.
 */
import { notFound } from '../../shared/errors.js';
import { NbdClient } from '../nbd/nbd-client.js';
import { BASE_ALLOCATION } from '../guest/guest-extents.js';
import type { BlockHashLog } from '../guest/guest-ranges-digest.js';
import { parseViewPath } from './view-path.js';

/** NBD meta context of a dirty bitmap that a backup job exports. */
export function dirtyContextOf(exportBitmap: string): string {
  return `qemu:dirty-bitmap:${exportBitmap}`;
}

/** One disk of a view. */
export interface ViewDisk {
  readonly target: string;
  /** The disk's image on this host. */
  readonly sourcePath: string;
  readonly format: string;
  readonly virtualSize: number;
  /** NBD export name (libvirt names exports after the disk target). */
  readonly exportName: string;
  /** The disk's own NBD socket when it has one (a shut-off view: one qemu-nbd per disk), else the view's. */
  readonly socket?: string;
  /** NBD meta context of the blocks dirtied since the incremental checkpoint; '' for a full view. */
  readonly dirtyContext: string;
  /** Data bytes read from the export so far. */
  bytesRead: number;
  /** Digest of the whole view, once a full pass computed it; ''. */
  digest: string;
  /** Hashes of the blocks ReadRanges sent (for the RangesDigest of a changed-block sync). */
  readonly sent: BlockHashLog;
}

/** One open view. */
export interface LiveView {
  readonly operationId: string;
  readonly vm: string;
  /** Unix socket of the backup job's NBD server ('' for a shut-off view, whose disks have sockets of their own). */
  readonly socket: string;
  readonly disks: ReadonlyMap<string, ViewDisk>;
}

/** Open views by operation id. */
export class LiveViews {
  private readonly views = new Map<string, LiveView>();

  add(view: LiveView): void {
    this.views.set(view.operationId, view);
  }

  remove(operationId: string): void {
    this.views.delete(operationId);
  }

  get(operationId: string): LiveView {
    const view = this.views.get(operationId);
    if (view === undefined) throw notFound(`no live view is open for operation ${operationId} (it ended, or this agent restarted)`);
    return view;
  }

  /** The view and disk a view path names; NOT_FOUND when the view is not open or has no such disk. */
  resolve(path: string): { view: LiveView; disk: ViewDisk } {
    const { operationId, target } = parseViewPath(path);
    const view = this.get(operationId);
    const disk = view.disks.get(target);
    if (disk === undefined) throw notFound(`the live view of operation ${operationId} has no disk ${target}`);
    return { view, disk };
  }

  /**
   * Runs `fn` with a fresh NBD connection to the disk a view path names (QEMU
   * allows several connections to a read-only export), closed however `fn`
   * ends. The dirty-bitmap context is negotiated when the view is incremental.
   */
  async withExport<T>(path: string, signal: AbortSignal, fn: (client: NbdClient, disk: ViewDisk) => Promise<T>): Promise<T> {
    const { view, disk } = this.resolve(path);
    const metaContexts = disk.dirtyContext !== '' ? [BASE_ALLOCATION, disk.dirtyContext] : [BASE_ALLOCATION];
    const client = await NbdClient.connect(disk.socket ?? view.socket, { exportName: disk.exportName, metaContexts, signal });
    try {
      return await fn(client, disk);
    } finally {
      await client.close();
    }
  }

  /** The open views. */
  list(): LiveView[] {
    return [...this.views.values()];
  }

  /** Number of open views (diagnostics and tests). */
  get size(): number {
    return this.views.size;
  }
}
