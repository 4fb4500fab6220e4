/**
 * StorageService: "is there room, and where". Free space is measured with
 * statfs at the nearest existing directory of a path under the image roots;
 * pools come from libvirt as it reports them (libvirt's "available" for a
 * directory pool is f_bfree, root's reserve included — GetFreeSpace's
 * available_bytes is f_bavail, what an ordinary writer can still use).
 */
import { statfs } from 'node:fs/promises';
import type { StorageServiceHandlers } from '../../shared/generated/kvmclone/agent/v1/StorageService.js';
import type { LibvirtPort } from '../libvirt/libvirt-port.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { unary, type RpcDeps } from '../rpc/handlers.js';

/** Builds the StorageService handlers. */
export function createStorageService(deps: { rpc: RpcDeps; libvirt: LibvirtPort; roots: ImageRoots }): StorageServiceHandlers {
  return {
    GetFreeSpace: unary('StorageService/GetFreeSpace', deps.rpc, async (request) => {
      const path = await deps.roots.nearestExisting(request.path, 'path');
      const fs = await statfs(path, { bigint: true });
      const bytes = (blocks: bigint): number => Number(blocks * fs.bsize);
      return {
        path,
        availableBytes: bytes(fs.bavail),
        freeBytes: bytes(fs.bfree),
        totalBytes: bytes(fs.blocks),
        blockSize: Number(fs.bsize),
      };
    }),
    ListPools: unary('StorageService/ListPools', deps.rpc, async (_request, ctx) => ({
      pools: (await deps.libvirt.listPools({ signal: ctx.signal })).map((p) => ({
        name: p.name,
        uuid: p.uuid,
        type: p.type,
        path: p.path,
        active: p.active,
        autostart: p.autostart,
        capacityBytes: p.capacityBytes,
        allocationBytes: p.allocationBytes,
        availableBytes: p.availableBytes,
      })),
    })),
  };
}
