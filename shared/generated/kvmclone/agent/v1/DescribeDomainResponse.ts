// Original file: proto/kvmclone/agent/v1/domain.proto

import type { DomainSummary as _kvmclone_agent_v1_DomainSummary, DomainSummary__Output as _kvmclone_agent_v1_DomainSummary__Output } from '../../../kvmclone/agent/v1/DomainSummary.js';
import type { DiskInfo as _kvmclone_agent_v1_DiskInfo, DiskInfo__Output as _kvmclone_agent_v1_DiskInfo__Output } from '../../../kvmclone/agent/v1/DiskInfo.js';

export interface DescribeDomainResponse {
  'domain'?: (_kvmclone_agent_v1_DomainSummary | null);
  /**
   * Inactive (persistent) definition when the domain has one, else live XML.
   */
  'xml'?: (string);
  'disks'?: (_kvmclone_agent_v1_DiskInfo)[];
  /**
   * UEFI variable store path, when the VM has one.
   */
  'nvramPath'?: (string);
  /**
   * Directory holding the swtpm state of an emulated TPM, when present.
   */
  'tpmStatePath'?: (string);
  /**
   * CPU mode of the definition: "host-model", "host-passthrough", "custom" or "".
   */
  'cpuMode'?: (string);
  /**
   * CPU model named in the definition (custom mode), or "".
   */
  'cpuModel'?: (string);
  /**
   * Every element of the definition this agent's domain policy refuses, as
   * "where: reason" (e.g. "domain/devices/hostdev: host device passthrough
   * ..."). A definition with any is refused by DefineDomain, so clone and
   * sync refuse before copying. Empty from an older agent.
   */
  'policyViolations'?: (string)[];
  /**
   * The regular files of tpm_state_path (recursively, its swtpm ".lock"
   * left out) as paths relative to it ("tpm2/tpm2-00.permall"), when that
   * directory lies under this agent's image roots; empty when it does not,
   * or does not exist yet (a TPM never started).
   */
  'tpmStateFiles'?: (string)[];
  /**
   * UUID of the libvirt secret the TPM state is encrypted with
   * (<backend><encryption secret=.../>), or "".
   */
  'tpmSecret'?: (string);
}

export interface DescribeDomainResponse__Output {
  'domain': (_kvmclone_agent_v1_DomainSummary__Output | null);
  /**
   * Inactive (persistent) definition when the domain has one, else live XML.
   */
  'xml': (string);
  'disks': (_kvmclone_agent_v1_DiskInfo__Output)[];
  /**
   * UEFI variable store path, when the VM has one.
   */
  'nvramPath': (string);
  /**
   * Directory holding the swtpm state of an emulated TPM, when present.
   */
  'tpmStatePath': (string);
  /**
   * CPU mode of the definition: "host-model", "host-passthrough", "custom" or "".
   */
  'cpuMode': (string);
  /**
   * CPU model named in the definition (custom mode), or "".
   */
  'cpuModel': (string);
  /**
   * Every element of the definition this agent's domain policy refuses, as
   * "where: reason" (e.g. "domain/devices/hostdev: host device passthrough
   * ..."). A definition with any is refused by DefineDomain, so clone and
   * sync refuse before copying. Empty from an older agent.
   */
  'policyViolations': (string)[];
  /**
   * The regular files of tpm_state_path (recursively, its swtpm ".lock"
   * left out) as paths relative to it ("tpm2/tpm2-00.permall"), when that
   * directory lies under this agent's image roots; empty when it does not,
   * or does not exist yet (a TPM never started).
   */
  'tpmStateFiles': (string)[];
  /**
   * UUID of the libvirt secret the TPM state is encrypted with
   * (<backend><encryption secret=.../>), or "".
   */
  'tpmSecret': (string);
}
