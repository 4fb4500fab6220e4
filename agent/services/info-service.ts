/**
 * InfoService: the first call every client makes — who is this agent, which
 * API versions and capabilities does it have, what can its host run, and who
 * the agent sees calling (so `kvmctl hosts check` can say which account its
 * SSH login turned into on the host, without running anything there).
 */
import type * as grpc from '@grpc/grpc-js';
import { release } from 'node:os';
import type { InfoServiceHandlers } from '../../shared/generated/kvmclone/agent/v1/InfoService.js';
import type { GetInfoRequest__Output } from '../../shared/generated/kvmclone/agent/v1/GetInfoRequest.js';
import type { GetInfoResponse } from '../../shared/generated/kvmclone/agent/v1/GetInfoResponse.js';
import { AGENT_CAPABILITIES, SERVED_API_VERSIONS } from '../../shared/capabilities.js';
import { KVMCLONE_VERSION } from '../../shared/version.js';
import type { LibvirtPort } from '../libvirt/libvirt-port.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { unary, type RpcDeps } from '../rpc/handlers.js';
import { callerOf } from '../server/caller.js';
import { callerGroups } from '../server/caller-groups.js';

/** Builds the InfoService handlers. */
export function createInfoService(deps: { rpc: RpcDeps; libvirt: LibvirtPort; roots: ImageRoots; forwardDir: string }): InfoServiceHandlers {
  const getInfo = (peer: string): grpc.handleUnaryCall<GetInfoRequest__Output, GetInfoResponse> =>
    unary<GetInfoRequest__Output, GetInfoResponse>('InfoService/GetInfo', deps.rpc, async (_request, ctx) => {
      const host = await deps.libvirt.hostFacts({ signal: ctx.signal });
      // A connection the agent accepted itself carries SO_PEERCRED (caller.ts); any other is reported as unknown.
      const caller = callerOf(peer);
      return {
        agentVersion: KVMCLONE_VERSION,
        apiVersions: [...SERVED_API_VERSIONS],
        capabilities: [...AGENT_CAPABILITIES],
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
    GetInfo: (call, callback) => getInfo(call.getPeer())(call, callback),
  };
}
