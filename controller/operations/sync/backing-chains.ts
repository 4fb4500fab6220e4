/**
 * The backing chains of a synced pair of disks: the source's chain mapped,
 * link by link, onto the destination's.
 *
 * An offline sync moves the top image of each disk; its backing files are
 * the destination's own copies, made by the clone — possibly in another
 * directory (`--target-dir`), with the top rebased onto them. The
 * destination agent keeps its top's backing reference when it applies the
 * source's header (agent/transfer/in-place-header.ts), so the copy stays on
 * its own chain. That is only right while each destination base holds the
 * same bytes as the source base it stands for; this module checks it before
 * anything is transferred.
 *
 * A base that changed at the source is refused (exit 3), not synced: a base
 * is shared by every image built on it, on both hosts, and rewriting it in
 * place under the images that use it would change what their guests see.
 * Bases are meant to be immutable; one that changed is news the operator
 * should hear (re-clone the VM, or restore the base) rather than have
 * papered over.
 */
import { failedPrecondition } from '../../../shared/errors.js';
import type { DescribeDomainResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import type { HostSession } from '../../transport/host-session.js';

/** One link of the mapping: a source base and the destination file that stands for it. */
export interface MappedBase {
  disk: string;
  sourcePath: string;
  targetPath: string;
}

/** Who is synced to whom, for messages. */
interface Names {
  vm: string;
  destVm: string;
  from: string;
  to: string;
}

/**
 * Maps each source disk's backing chain onto its destination disk's (by
 * guest target, link by link, nearest first); FAILED_PRECONDITION when the
 * chains differ in length or format, or a disk new at the source has a
 * chain, naming the disk.
 */
export function mapBackingChains(source: DescribeDomainResponse__Output, dest: DescribeDomainResponse__Output, names: Names): MappedBase[] {
  const mapped: MappedBase[] = [];
  for (const s of source.disks) {
    if (s.device !== 'disk' || s.path === '' || s.backingChain.length === 0) continue;
    const d = dest.disks.find((x) => x.target === s.target);
    if (d === undefined) {
      // A disk added at the source would be copied as its top file alone, naming bases the destination lacks.
      throw failedPrecondition(
        `disk ${s.target} of ${names.vm} on ${names.from} is new and sits on backing file(s) (${s.backingChain.map((b) => b.path).join(', ')}): sync adds standalone disks only; clone the VM again, or flatten that disk first`,
      );
    }
    if (d.path === '') continue;
    if (d.backingChain.length !== s.backingChain.length) {
      throw failedPrecondition(
        `disk ${s.target}: ${names.vm} on ${names.from} has ${s.backingChain.length} backing file(s) (${s.backingChain.map((b) => b.path).join(', ')}) but ${names.destVm} on ${names.to} has ${d.backingChain.length}: the chains no longer match (rebased or committed since the clone); clone the VM again`,
      );
    }
    s.backingChain.forEach((b, i) => {
      const c = d.backingChain[i];
      if (c === undefined) return;
      if (c.format !== b.format) {
        throw failedPrecondition(
          `disk ${s.target}: the backing file ${b.path} on ${names.from} is ${b.format} but its copy ${c.path} on ${names.to} is ${c.format}; clone the VM again`,
        );
      }
      mapped.push({ disk: s.target, sourcePath: b.path, targetPath: c.path });
    });
  }
  return mapped;
}

/**
 * Checks that every mapped destination base holds the bytes of its source
 * base (whole-image digests, both sides at once); FAILED_PRECONDITION naming
 * the first that differs. A base shared on one host (a same-host sync) is
 * its own copy and is not read.
 */
export async function requireEqualBases(src: HostSession, dst: HostSession, bases: readonly MappedBase[], names: Names, signal: AbortSignal): Promise<void> {
  const seen = new Set<string>();
  for (const base of bases) {
    if (seen.has(base.targetPath)) continue;
    seen.add(base.targetPath);
    if (names.from === names.to && base.sourcePath === base.targetPath) continue;
    const [a, b] = await Promise.all([
      src.call(src.clients.disk, src.clients.disk.digestImage, { path: base.sourcePath }, signal),
      dst.call(dst.clients.disk, dst.clients.disk.digestImage, { path: base.targetPath }, signal),
    ]);
    if (a.digest !== b.digest) {
      throw failedPrecondition(
        `disk ${base.disk}: the backing file ${base.sourcePath} on ${names.from} differs from its copy ${base.targetPath} on ${names.to} (it changed since the clone); a base is shared by the images built on it, so kvmclone does not rewrite it in place: clone the VM again, or restore the base`,
      );
    }
  }
}
