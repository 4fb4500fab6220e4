/**
 * What must hold after a trial, checked from outside kvmctl: the source's
 * definition and disks unchanged; the destination holding the complete,
 * verified result, or nothing (clone) / the previous copy (sync), or work
 * files a rerun picks up (staging files it resumes, a journal it rolls
 * forward) — never a half-made domain, a mixed image or a lock held by a run
 * that is gone; and after the rerun, the destination equal to the source with
 * nothing left behind on either host.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DST, SRC, digests, domainDefined, imageFiles, isWorkFile, leftovers, virsh, type Leftover } from './fault-hosts.js';
import type { FaultOperation } from './operations.js';

/** The source as it was: its inactive definition and a digest of each image. */
export interface SourceState {
  xml: string;
  digests: Record<string, string>;
}

/** Reads the source's definition and digests its images. */
export async function sourceState(op: FaultOperation): Promise<SourceState> {
  const [xml, d] = await Promise.all([virsh(SRC, ['dumpxml', '--inactive', op.vm]), digests(SRC, op.images, op.contentDigest)]);
  return { xml, digests: d };
}

/** Differences between the source now and `before` (empty when unchanged). */
export async function sourceChanges(op: FaultOperation, before: SourceState): Promise<string[]> {
  const now = await sourceState(op);
  const changes: string[] = [];
  if (now.xml !== before.xml) changes.push(`source ${op.vm}'s definition changed`);
  for (const [file, digest] of Object.entries(before.digests)) if (now.digests[file] !== digest) changes.push(`source image ${file} changed`);
  if (op.name === 'live' && !/running/.test(await virsh(SRC, ['domstate', op.vm]))) changes.push(`source ${op.vm} is no longer running`);
  return changes;
}

/** The destination's images that exist at the source (a clone copies exactly those). */
export function expectedImages(src: SourceState): string[] {
  return Object.entries(src.digests)
    .filter(([, d]) => d !== '')
    .map(([f]) => f);
}

/** What a run left on the destination. */
export type DestinationState = 'complete' | 'nothing' | 'previous' | 'resumable' | 'half-made';

/** The destination classified, with what was seen, and violations of the rules. */
export interface DestinationCheck {
  state: DestinationState;
  workFiles: string[];
  violations: string[];
}

/**
 * Classifies the destination after a run: `complete` (domain defined, every
 * image equal to the source, no work file), `nothing` (a clone left no
 * domain and no image), `previous` (a sync left the earlier copy as it was),
 * `resumable` (only work files a rerun takes over: staging files of a clone
 * with no domain or image, or of a clone stopped in COMMIT whose domain is
 * defined and every image in place or staged; a sync's journal), else
 * `half-made`.
 */
export async function destinationState(op: FaultOperation, src: SourceState, previous: Record<string, string> | undefined): Promise<DestinationCheck> {
  const files = await imageFiles(DST);
  const workFiles = files.filter((f) => isWorkFile(f) && op.images.some((i) => f.includes(i)));
  const defined = await domainDefined(DST, op.vm);
  const wanted = expectedImages(src);
  const now = await digests(DST, wanted, op.contentDigest);
  const equal = wanted.every((f) => now[f] !== '' && now[f] === src.digests[f]);
  const present = wanted.filter((f) => now[f] !== '');
  if (defined && equal && workFiles.length === 0) return { state: 'complete', workFiles, violations: [] };
  if (op.kind === 'clone') {
    if (!defined && present.length === 0) return { state: workFiles.length === 0 ? 'nothing' : 'resumable', workFiles, violations: [] };
    // Stopped in COMMIT: the domain defined, each image in place or still staged, as the run's journal in the history
    // says; the next run commits the rest (controller/operations/clone/finish-commit.ts).
    const staged = (f: string): boolean => workFiles.some((w) => w.includes(f) && w.includes('kvmclone-staging'));
    if (defined && wanted.every((f) => now[f] === src.digests[f] || staged(f))) return { state: 'resumable', workFiles, violations: [] };
    const what = defined
      ? `domain ${op.vm} defined but ${equal ? 'work files left' : `images not equal to the source (${wanted.filter((f) => now[f] !== src.digests[f]).join(', ')})`}`
      : `no domain but images ${present.join(', ')} present`;
    return { state: 'half-made', workFiles, violations: [`half-made clone: ${what}`] };
  }
  if (!defined) return { state: 'half-made', workFiles, violations: [`the copy's domain ${op.vm} is gone`] };
  const intact = previous !== undefined && wanted.every((f) => now[f] === previous[f]);
  if (workFiles.some((f) => f.includes('kvmclone-journal'))) return { state: 'resumable', workFiles, violations: [] };
  if (intact) return { state: workFiles.length === 0 ? 'previous' : 'resumable', workFiles, violations: [] };
  const mixed = wanted.filter((f) => now[f] !== src.digests[f] && now[f] !== previous?.[f]);
  return { state: 'half-made', workFiles, violations: [`sync left ${mixed.join(', ') || 'images'} neither the previous copy nor the source, and no journal`] };
}

/**
 * Waits until no leftover on either host belongs to a running operation (a
 * killed kvmctl's pulls and locks go once its agents notice), at most
 * `timeoutMs`; resolves with the last listing and whether it settled.
 */
export async function settledLeftovers(stateDir: string, timeoutMs = 30_000): Promise<{ leftovers: Record<string, Leftover[]>; settled: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await leftovers(stateDir);
    const running = Object.values(now)
      .flat()
      .filter((l) => l.running);
    if (running.length === 0) return { leftovers: now, settled: true };
    if (Date.now() > deadline) return { leftovers: now, settled: false };
    await sleep(1000);
  }
}

/** Leftovers that must not outlive a run: held locks, live backup sockets and scratch files (peer sockets are left by sshd by design and are gc's). */
export function heldLeftovers(left: Record<string, Leftover[]>, includeWorkFiles: boolean): string[] {
  const out: string[] = [];
  for (const [host, list] of Object.entries(left)) {
    for (const l of list) {
      if (l.kind === 'peer-socket') continue;
      if (!includeWorkFiles && (l.kind === 'staging' || l.kind === 'journal')) continue;
      out.push(`${host}: ${l.kind} ${l.path}${l.running ? ' (running)' : ''}${l.operationId ? ` of ${l.operationId}` : ''}`);
    }
  }
  return out;
}

/** A live source left with a backup job running. */
export async function sourceJobs(op: FaultOperation): Promise<string[]> {
  if (op.name !== 'live') return [];
  const job = await virsh(SRC, ['domjobinfo', op.vm]);
  return /Job type:\s+None/.test(job) ? [] : [`a job is left on source ${op.vm}: ${job.replace(/\s+/g, ' ').trim()}`];
}
