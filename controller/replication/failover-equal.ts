/**
 * EQUAL, the step of a planned failover (the source found shut off, no
 * --point) that makes the copy equal to the original before it starts: a
 * final offline sync original -> copy with both shut off. The images'
 * identities it leaves are what the copy's first-instant checkpoint is
 * confirmed against (failover-start.ts), and what is checked again just
 * before START: a checkpoint is only a base for failback when both sides
 * were still equal when the copy started.
 */
import { confirm } from '../cli/confirm.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { formatBytes } from '../cli/reporter.js';
import type { ImageIdentity } from '../history/live-replica-store.js';
import { imageIdentities, sameIdentities } from '../operations/live/live-confirm.js';
import type { OperationRun } from '../operations/operation-run.js';
import { imageDisks } from '../operations/points/vm-points.js';
import { runSync } from '../operations/sync/run-sync.js';
import type { HostSession } from '../transport/host-session.js';
import { checkpointBlocker } from './failover-checkpoint.js';
import type { RecoveryDeps } from './failover.js';
import { nestedError, nestedReporter } from './nested-reporter.js';
import { describeVm } from './recovery-session.js';
import type { Replica } from './replica-store.js';

/** What EQUAL left: the original's and the copy's images as the final sync left them. */
export interface EqualImages {
  original: ImageIdentity[];
  copy: ImageIdentity[];
  syncId: string;
  bytesOnWire: number;
}

/** What START is to build on: EQUAL's images when they are known equal, and why there will be no checkpoint ('' when there will). */
export interface EqualOutcome {
  equal: EqualImages | undefined;
  noCheckpoint: string;
}

/**
 * EQUAL: a final offline sync original -> copy (both shut off). Resolves with
 * the images' identities after it, or a reason when the original changed
 * while it ran (it was started, or written): then the two are not known equal.
 */
async function equalize(replica: Replica, op: OperationRun, home: HostSession, dst: HostSession, deps: RecoveryDeps): Promise<EqualImages | string> {
  const { reporter, signal } = deps;
  const originalDisks = imageDisks(await describeVm(home, replica.vm, signal));
  const before = await imageIdentities(home, originalDisks, signal);
  const nested = nestedReporter(reporter);
  const code = await runSync(
    { vm: replica.vm, from: replica.from, to: replica.to, destVm: replica.destVm, dryRun: false, ...(replica.keep !== null && { keep: replica.keep }) },
    { ...deps, reporter: nested, confirmDiskChanges: (question) => confirm(question, { yes: deps.yes, json: deps.json, signal, unattended: false }) },
  );
  const r = nested.captured;
  if (code !== EXIT_OK) throw nestedError(r, `the final sync to ${replica.to} failed (exit ${code})`);
  const syncId = typeof r?.id === 'string' ? r.id : '';
  const bytesOnWire = typeof r?.bytesOnWire === 'number' ? r.bytesOnWire : 0;
  op.bytesOnWire += bytesOnWire;
  reporter.info(`  sync ${syncId}: ${formatBytes(bytesOnWire)} on the wire; ${replica.destVm} on ${replica.to} now equals ${replica.vm}`);
  const after = await imageIdentities(home, originalDisks, signal);
  const same = sameIdentities(before, after);
  if (!same.same) return `${replica.vm} on ${replica.from} changed while the final sync ran (${same.why.replace('on the destination ', '')})`;
  const copy = await imageIdentities(dst, imageDisks(await describeVm(dst, replica.destVm, signal)), signal);
  return { original: after, copy, syncId, bytesOnWire };
}

/**
 * The EQUAL step: first whether the copy can have a checkpoint at all (its
 * disks and host, failover-checkpoint.ts) — the step says what failback
 * gains when it can — then the final sync. Resolves with the images it left,
 * when known equal, and why there will be no checkpoint ('' when there will).
 */
export async function equalStep(replica: Replica, op: OperationRun, home: HostSession, dst: HostSession, deps: RecoveryDeps): Promise<EqualOutcome> {
  let noCheckpoint = checkpointBlocker(await describeVm(dst, replica.destVm, deps.signal), replica.to, dst.info.capabilities);
  let equal: EqualImages | undefined;
  op.step(
    'EQUAL',
    `a final sync ${replica.vm} -> ${replica.destVm} with both shut off: the copy starts with the original's last writes${noCheckpoint === '' ? ", equal to it (failback can then read the copy's dirty bitmap)" : ''}`,
  );
  op.phase = 'run';
  const equalized = await equalize(replica, op, home, dst, deps);
  if (typeof equalized === 'string') noCheckpoint ||= equalized;
  else equal = equalized;
  return { equal, noCheckpoint };
}

/**
 * Both sides still as the final sync left them (nothing started or wrote
 * either since)? Resolves with why not, or '' when they
 * are: only then does the copy's first instant equal the original.
 */
export async function changedSinceEqual(home: HostSession, dst: HostSession, equal: EqualImages, signal: AbortSignal): Promise<string> {
  const [originalNow, copyNow] = await Promise.all([imageIdentities(home, equal.original, signal), imageIdentities(dst, equal.copy, signal)]);
  const changed = [sameIdentities(equal.original, originalNow), sameIdentities(equal.copy, copyNow)].find((c) => !c.same);
  return changed ? `an image changed after the final sync (${changed.why.replace('on the destination ', '')})` : '';
}
