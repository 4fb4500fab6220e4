/**
 * What the controller remembers between live syncs of one copy (a source VM
 * and its copy on another host): the checkpoint whose data the destination
 * confirmed (committed and digest-checked), the checkpoint's XML (to
 * redefine it if libvirt loses its metadata), and the identity of each
 * destination image as the last sync left it. A changed-block sync is only
 * sound if the destination is exactly what that sync left: any difference
 * in identity makes the next sync compare hashes instead.
 */
import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';

/** Identity of one destination image after a sync. */
export interface ImageIdentity {
  target: string;
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtimeNs: string;
  ctimeNs: string;
}

/** The remembered state of one copy. */
export interface LiveReplicaState {
  replicaId: string;
  /** The checkpoint the destination confirmed, or ''. */
  checkpoint: string;
  checkpointXml: string;
  images: ImageIdentity[];
  updatedAt: string;
}

/** Which copy: source VM on its host, copy on its host. */
export interface ReplicaKey {
  sourceHost: string;
  vm: string;
  destHost: string;
  destVm: string;
}

interface Row {
  replica_id: string;
  checkpoint: string;
  checkpoint_xml: string;
  images_json: string;
  updated_at: string;
}

/** The live-replica table of the history database. */
export class LiveReplicaStore {
  /** `db` is the history database as OperationStore opened it (its schema: history-schema.ts). */
  constructor(private readonly db: Database.Database) {}

  /** The state of a copy, or undefined when it was never copied live. */
  get(key: ReplicaKey): LiveReplicaState | undefined {
    const row = this.db
      .prepare(`SELECT replica_id, checkpoint, checkpoint_xml, images_json, updated_at FROM live_replicas WHERE source_host = ? AND vm = ? AND dest_host = ? AND dest_vm = ?`)
      .get(key.sourceHost, key.vm, key.destHost, key.destVm) as Row | undefined;
    if (!row) return undefined;
    return {
      replicaId: row.replica_id,
      checkpoint: row.checkpoint,
      checkpointXml: row.checkpoint_xml,
      images: JSON.parse(row.images_json) as ImageIdentity[],
      updatedAt: row.updated_at,
    };
  }

  /** The replica id of a copy, made (and stored, with no checkpoint yet) on first use. */
  replicaId(key: ReplicaKey): string {
    const existing = this.get(key);
    if (existing) return existing.replicaId;
    const id = `r${randomUUID().replace(/-/g, '').slice(0, 15)}`;
    this.db
      .prepare(`INSERT INTO live_replicas (source_host, vm, dest_host, dest_vm, replica_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(key.sourceHost, key.vm, key.destHost, key.destVm, id, new Date().toISOString());
    return id;
  }

  /** Records what a successful live clone or sync confirmed. */
  confirm(key: ReplicaKey, state: Pick<LiveReplicaState, 'checkpoint' | 'checkpointXml' | 'images'>): void {
    this.replicaId(key);
    this.db
      .prepare(`UPDATE live_replicas SET checkpoint = ?, checkpoint_xml = ?, images_json = ?, updated_at = ? WHERE source_host = ? AND vm = ? AND dest_host = ? AND dest_vm = ?`)
      .run(state.checkpoint, state.checkpointXml, JSON.stringify(state.images), new Date().toISOString(), key.sourceHost, key.vm, key.destHost, key.destVm);
  }

  /** Forgets the confirmed checkpoint (the next live sync compares hashes and starts a new chain). */
  forgetCheckpoint(key: ReplicaKey): void {
    this.db
      .prepare(`UPDATE live_replicas SET checkpoint = '', checkpoint_xml = '', updated_at = ? WHERE source_host = ? AND vm = ? AND dest_host = ? AND dest_vm = ?`)
      .run(new Date().toISOString(), key.sourceHost, key.vm, key.destHost, key.destVm);
  }
}
