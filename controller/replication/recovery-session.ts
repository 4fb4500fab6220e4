/**
 * The agent sessions failover, failback and test failovers open, and the
 * DescribeDomain they all read states and disks with. Every session carries
 * the command's agent socket, call deadline and signal, the capabilities its
 * steps will use (an agent without one is refused up front), and the
 * operation its locks and starts belong to.
 */
import type { AgentCapability } from '../../shared/capabilities.js';
import type { DescribeDomainResponse__Output } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import type { OperationDeps } from '../operations/operation-run.js';
import { HostSession } from '../transport/host-session.js';

/** Opens the agent session on `host` for operation `operationId`, with the capabilities `needs` lists. */
export function openRecoverySession(
  deps: Pick<OperationDeps, 'engine' | 'options' | 'signal'>,
  host: string,
  needs: readonly AgentCapability[],
  operationId: string,
): Promise<HostSession> {
  return HostSession.open(deps.engine, host, {
    agentSocket: deps.options.agentSocket,
    callMs: deps.options.timeouts.callMs,
    signal: deps.signal,
    needs,
    operationId,
  });
}

/** The domain `vm` as the host's agent describes it (NOT_FOUND when there is none). */
export async function describeVm(session: HostSession, vm: string, signal: AbortSignal): Promise<DescribeDomainResponse__Output> {
  return session.call(session.clients.domain, session.clients.domain.describeDomain, { name: vm }, signal);
}
