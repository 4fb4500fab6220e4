/**
 * A DescribeDomain answer for the controller's unit tests (the plans and
 * preflight checks that read one): every field empty or off but those a
 * test names, so each test spells out only what it is about.
 */
import type { DescribeDomainResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import type { DiskInfo__Output } from '../../../shared/generated/kvmclone/agent/v1/DiskInfo.js';

/** A described VM with no domain summary, no disks, no NVRAM or TPM state and no policy violations, but for `fields`. */
export function describedDomain(fields: Partial<DescribeDomainResponse__Output> = {}): DescribeDomainResponse__Output {
  return {
    domain: null,
    xml: '',
    disks: [],
    nvramPath: '',
    tpmStatePath: '',
    tpmStateFiles: [],
    tpmSecret: '',
    cpuMode: '',
    cpuModel: '',
    policyViolations: [],
    ...fields,
  };
}

/** A described writable, unshared raw disk of 1 byte with no backing chain, but for `fields`. */
export function describedDisk(fields: Partial<DiskInfo__Output> & Pick<DiskInfo__Output, 'target' | 'path'>): DiskInfo__Output {
  return {
    device: 'disk',
    format: 'raw',
    virtualSize: 1,
    allocatedSize: 1,
    backingChain: [],
    readonly: false,
    shareable: false,
    backingReference: '',
    ...fields,
  };
}
