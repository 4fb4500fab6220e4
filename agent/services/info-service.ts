/**
 * InfoService: the first call every client makes — who is this agent, which
 * API versions and capabilities does it have, what can its host run, and who
 * the agent sees calling (so `kvmctl hosts check` can say which account its
 * SSH login turned into on the host, without running anything there).
 */
import { advertisedIdentity } from './advertised-identity.js';
import type * as grpc from '@grpc/grpc-js';
import { release } from 'node:os';
import type { InfoServiceHandlers } from '../../shared/generated/kvmclone/agent/v1/InfoService.js';
import type { GetInfoRequest__Output } from '../../shared/generated/kvmclone/agent/v1/GetInfoRequest.js';
import type { GetInfoResponse } from '../../shared/generated/kvmclone/agent/v1/GetInfoResponse.js';
import { AGENT_CAPABILITIES, SERVED_API_VERSIONS } from '../../shared/capabilities.js';
import type { LibvirtPort } from '../libvirt/libvirt-port.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { serverStream, unary, type RpcDeps } from '../rpc/handlers.js';
import { failedPrecondition } from '../../shared/errors.js';
import type { ReadAuditRequest__Output } from '../../shared/generated/kvmclone/agent/v1/ReadAuditRequest.js';
import type { AuditEntry } from '../../shared/generated/kvmclone/agent/v1/AuditEntry.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { AuditRecord } from '../audit/audit-record.js';
import { checkAuditQuery, readAudit } from '../audit/audit-reader.js';
import { callerOf } from '../server/caller.js';
import { callerGroups } from '../server/caller-groups.js';

/** A record as the wire's AuditEntry. */
export function toAuditEntry(r: AuditRecord): AuditEntry {
  return {
    v: r.v,
    time: r.time,
    method: r.method,
    caller: r.caller,
    operationId: r.operationId ?? '',
    vm: r.vm ?? '',
    paths: r.paths,
    outcome: r.outcome,
    code: r.code,
    message: r.message ?? '',
    durationMs: r.durationMs,
  };
}

/** Builds the InfoService handlers; ReadAudit reads `audit`'s files (FAILED_PRECONDITION where the agent keeps none, e.g. in tests). */
export function createInfoService(deps: { rpc: RpcDeps; libvirt: LibvirtPort; roots: ImageRoots; forwardDir: string; audit?: AuditLog | undefined }): InfoServiceHandlers {
  const identity = advertisedIdentity();
  if (identity.emulated)
    deps.rpc.log.warn(
      { version: identity.version, hidden: AGENT_CAPABILITIES.filter((c) => !identity.capabilities.includes(c)) },
      'advertising an older identity (KVMCLONE_AGENT_REPORT_VERSION, KVMCLONE_AGENT_HIDE_CAPABILITIES)',
    );
  const getInfo = (peer: string): grpc.handleUnaryCall<GetInfoRequest__Output, GetInfoResponse> =>
    unary<GetInfoRequest__Output, GetInfoResponse>('InfoService/GetInfo', deps.rpc, async (_request, ctx) => {
      const host = await deps.libvirt.hostFacts({ signal: ctx.signal });
      // A connection the agent accepted itself carries SO_PEERCRED (caller.ts); any other is reported as unknown.
      const caller = callerOf(peer);
      return {
        agentVersion: identity.version,
        apiVersions: [...SERVED_API_VERSIONS],
        capabilities: [...identity.capabilities],
        imageRoots: [...deps.roots.roots],
        forwardDir: deps.forwardDir,
        ...(caller && { caller: { uid: caller.uid, gid: caller.gid, groups: await callerGroups(caller.pid), role: caller.role } }),
        host: {
          hostname: host.hostname,
          arch: host.arch,
          cpuModel: host.cpuModel,
          cpuFeatures: host.cpuFeatures,
          cpus: host.cpus,
          memoryBytes: host.memoryBytes,
          freeMemoryBytes: host.freeMemoryBytes,
          libvirtVersion: host.libvirtVersion,
          qemuVersion: host.qemuVersion,
          kernelRelease: release(),
          usableCpuModels: host.usableCpuModels,
          kvm: host.kvm,
        },
      };
    });
  return {
    ReadAudit: serverStream<ReadAuditRequest__Output, AuditEntry>('InfoService/ReadAudit', deps.rpc, async (request, send, ctx) => {
      const query = checkAuditQuery(request);
      if (deps.audit === undefined) throw failedPrecondition('this agent keeps no audit trail');
      const { records, unreadable } = await readAudit(deps.audit.file, query, ctx.signal);
      if (unreadable > 0) ctx.log.warn({ file: deps.audit.file, unreadable }, 'audit lines that are not valid records were skipped');
      for (const r of records) await send(toAuditEntry(r));
    }),
    GetInfo: (call, callback) => getInfo(call.getPeer())(call, callback),
  };
}
