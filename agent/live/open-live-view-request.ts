/**
 * OpenLiveView's request, checked: names and IDs validated, the quiesce mode
 * read, a replica ID required where changed-block tracking is asked. Kept
 * apart from opening the view (open-live-view.ts).
 */
import { invalidArgument } from '../../shared/errors.js';
import type { OpenLiveViewRequest__Output } from '../../shared/generated/kvmclone/agent/v1/OpenLiveViewRequest.js';
import { checkId, checkVmName } from '../../shared/validation.js';
import { checkCheckpointName, checkReplicaId } from './checkpoint-names.js';
import type { QuiesceMode } from './quiesce.js';

const QUIESCE: Record<string, QuiesceMode> = {
  QUIESCE_UNSPECIFIED: 'try',
  QUIESCE_TRY: 'try',
  QUIESCE_REQUIRE: 'require',
  QUIESCE_OFF: 'off',
};

/** Validated request. */
export interface LiveViewRequest {
  vm: string;
  operationId: string;
  replicaId: string;
  incrementalFrom: string;
  incrementalFromXml: string;
  cbt: boolean;
  quiesce: QuiesceMode;
}

/** The request validated, or INVALID_ARGUMENT saying which field is wrong. */
export function checkLiveViewRequest(req: OpenLiveViewRequest__Output): LiveViewRequest {
  const vm = checkVmName(req.vmName, 'vm_name');
  const operationId = checkId(req.operationId, 'operation_id');
  const quiesce = QUIESCE[String(req.quiesce)];
  if (quiesce === undefined) throw invalidArgument(`quiesce: ${String(req.quiesce)} is not a quiesce mode`);
  const needsReplica = req.cbt || req.incrementalFrom !== '';
  const replicaId = needsReplica ? checkReplicaId(req.replicaId) : '';
  const incrementalFrom = req.incrementalFrom === '' ? '' : checkCheckpointName(req.incrementalFrom, replicaId, 'incremental_from');
  if (req.incrementalFromXml.length > 1024 * 1024) throw invalidArgument('incremental_from_xml: longer than 1 MiB');
  return { vm, operationId, replicaId, incrementalFrom, incrementalFromXml: req.incrementalFromXml, cbt: req.cbt, quiesce };
}
