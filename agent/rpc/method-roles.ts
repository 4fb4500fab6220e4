/**
 * Which agent RPCs only read. The read-only socket (agent-ro.sock) serves
 * these and refuses the rest with PERMISSION_DENIED; the audit trail records
 * every call that is not in this set. One list, so the two can never disagree:
 * a new RPC is mutating (admin-only, audited) until it is added here.
 *
 * ReadRanges is not here: it hands out a disk's contents, which a role meant
 * for inventory and monitoring has no need to see.
 */
export const READ_ONLY_METHODS: ReadonlySet<string> = new Set([
  '/kvmclone.agent.v1.InfoService/GetInfo',
  '/kvmclone.agent.v1.InfoService/ReadAudit',
  '/kvmclone.agent.v1.StorageService/GetFreeSpace',
  '/kvmclone.agent.v1.StorageService/ListPools',
  '/kvmclone.agent.v1.DomainService/ListDomains',
  '/kvmclone.agent.v1.DomainService/DescribeDomain',
  '/kvmclone.agent.v1.DomainService/DescribeSecret',
  '/kvmclone.agent.v1.DiskService/StatImage',
  '/kvmclone.agent.v1.DiskService/MapExtents',
  '/kvmclone.agent.v1.DiskService/HashBlocks',
  '/kvmclone.agent.v1.DiskService/DigestImage',
  '/kvmclone.agent.v1.TransferService/ListLeftovers',
  '/kvmclone.agent.v1.TransferService/ListRestorePoints',
]);

/** The role a socket grants. */
export type SocketRole = 'admin' | 'read-only';

/** True when `path` (e.g. "/kvmclone.agent.v1.DomainService/DefineDomain") changes something. */
export function isMutating(path: string): boolean {
  return !READ_ONLY_METHODS.has(path);
}
