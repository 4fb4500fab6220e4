// Original file: proto/kvmclone/agent/v1/domain.proto

import type { DomainSummary as _kvmclone_agent_v1_DomainSummary, DomainSummary__Output as _kvmclone_agent_v1_DomainSummary__Output } from '../../../kvmclone/agent/v1/DomainSummary.js';

export interface ResumeDomainResponse {
  'domain'?: (_kvmclone_agent_v1_DomainSummary | null);
}

export interface ResumeDomainResponse__Output {
  'domain': (_kvmclone_agent_v1_DomainSummary__Output | null);
}
