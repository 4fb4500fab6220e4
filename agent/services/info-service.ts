/**
 * InfoService: the first call every client makes — who is this agent, which
 * API versions and capabilities does it have, and what can its host run.
 */
import { release } from 'node:os';
import type { InfoServiceHandlers } from '../../shared/generated/kvmclone/agent/v1/InfoService.js';
import type { GetInfoRequest__Output } from '../../shared/generated/kvmclone/agent/v1/GetInfoRequest.js';
import type { GetInfoResponse } from '../../shared/generated/kvmclone/agent/v1/GetInfoResponse.js';
import { AGENT_CAPABILITIES, SERVED_API_VERSIONS } from '../../shared/capabilities.js';
import { KVMCLONE_VERSION } from '../../shared/version.js';
import type { LibvirtPort } from '../libvirt/libvirt-port.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { unary, type RpcDeps } from '../rpc/handlers.js';

/** Builds the InfoService handlers. */
export function createInfoService(deps: { rpc: RpcDeps; libvirt: LibvirtPort; roots: ImageRoots }): InfoServiceHandlers {
  return {
    GetInfo: unary<GetInfoRequest__Output, GetInfoResponse>('InfoService/GetInfo', deps.rpc, async (_request, ctx) => {
      const host = await deps.libvirt.hostFacts({ signal: ctx.signal });
      return {
        agentVersion: KVMCLONE_VERSION,
        apiVersions: [...SERVED_API_VERSIONS],
        capabilities: [...AGENT_CAPABILITIES],
        imageRoots: [...deps.roots.roots],
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
    }),
  };
}
