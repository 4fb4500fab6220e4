/**
 * ListLeftovers and RemoveLeftovers, the wire side: requests checked,
 * leftovers in their proto form. ListLeftovers is read-only (in
 * READ_ONLY_METHODS: the read-only socket serves it, `kvmctl hosts check`
 * uses it); RemoveLeftovers is admin-only and audited like every mutating
 * call.
 */
import type { Leftover } from '../../shared/generated/kvmclone/agent/v1/Leftover.js';
import type { LeftoverKind as WireKind } from '../../shared/generated/kvmclone/agent/v1/LeftoverKind.js';
import type { ListLeftoversResponse } from '../../shared/generated/kvmclone/agent/v1/ListLeftoversResponse.js';
import type { RemoveLeftoversRequest__Output } from '../../shared/generated/kvmclone/agent/v1/RemoveLeftoversRequest.js';
import type { RemoveLeftoversResponse } from '../../shared/generated/kvmclone/agent/v1/RemoveLeftoversResponse.js';
import { invalidArgument } from '../../shared/errors.js';
import type { LeftoverKind } from './leftover-names.js';
import { listLeftovers, removeLeftovers, type DecidedLeftover } from './remove-leftovers.js';
import type { LeftoverScope } from './scan-leftovers.js';

const WIRE_KIND: Record<LeftoverKind, WireKind> = {
  staging: 'LEFTOVER_KIND_STAGING',
  journal: 'LEFTOVER_KIND_JOURNAL',
  'peer-socket': 'LEFTOVER_KIND_PEER_SOCKET',
  scratch: 'LEFTOVER_KIND_SCRATCH',
  'backup-socket': 'LEFTOVER_KIND_BACKUP_SOCKET',
  lock: 'LEFTOVER_KIND_LOCK',
};

/** Longest age limit accepted: ten years, in seconds. */
const MAX_AGE_SECONDS = 10 * 365 * 24 * 3600;

function toWire(l: DecidedLeftover): Leftover {
  return {
    kind: WIRE_KIND[l.kind],
    path: l.path,
    operationId: l.operationId,
    ageSeconds: l.ageSeconds,
    running: l.running,
    committed: l.committed,
    sizeBytes: l.sizeBytes,
    keepReason: l.keepReason,
  };
}

/** ListLeftovers: everything found, each with what RemoveLeftovers (any age) would do. */
export async function listLeftoversCall(scope: LeftoverScope): Promise<ListLeftoversResponse> {
  return { leftovers: (await listLeftovers(scope)).map(toWire) };
}

/** RemoveLeftovers: INVALID_ARGUMENT for a negative, non-finite or absurd age limit. */
export async function removeLeftoversCall(scope: LeftoverScope, req: RemoveLeftoversRequest__Output): Promise<RemoveLeftoversResponse> {
  const minAge = req.minAgeSeconds;
  if (!Number.isFinite(minAge) || minAge < 0 || minAge > MAX_AGE_SECONDS) {
    throw invalidArgument(`min_age_seconds: ${minAge} is not an age between 0 and ${MAX_AGE_SECONDS} seconds`);
  }
  const report = await removeLeftovers(scope, minAge, req.dryRun);
  return { removed: report.removed.map(toWire), kept: report.kept.map(toWire) };
}
