/**
 * The split-brain check of a failover: before the copy is started, the
 * source VM must be known not to run — two instances of one VM writing
 * their own disks is the one thing a failover must never cause. The source
 * host's agent is asked (within a short deadline) for the VM's state; the
 * decision is a pure function of what it answered, so every refusal is
 * unit-tested:
 *
 * - reachable and running (or paused, shutting down, anything not off) →
 *   refused, `--force` or not: shut it down first;
 * - shut off or crashed, or no VM of that name there → allowed;
 * - unreachable (no SSH connection, or the agent does not answer) →
 *   refused unless `--force`: only the user can confirm the host is down
 *   (a host whose agent is down may still run the VM).
 */
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import type { ControllerOptions } from '../config/controller-config.js';
import { HostSession } from '../transport/host-session.js';
import type { SshEngine } from '../transport/ssh-engine.js';
import { normalizeSshError } from '../transport/ssh-error-code.js';
import type { SourceAtFailover } from './failover-store.js';

/** What the source host said about the VM. */
export type SourceProbe = { kind: 'state'; state: string } | { kind: 'absent' } | { kind: 'unreachable'; reason: string };

/** How long the source host gets to answer (SSH connect, agent check, DescribeDomain). */
export const PROBE_DEADLINE_MS = 20_000;

/** Error codes that mean the host or its agent could not be reached (not a refusal or a bad key). */
const UNREACHABLE = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'CANCELLED']);

/** Asks `host`'s agent (read-only socket when it has one) for `vm`'s state within PROBE_DEADLINE_MS. */
export async function probeSource(engine: SshEngine, options: ControllerOptions, host: string, vm: string, signal: AbortSignal): Promise<SourceProbe> {
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(PROBE_DEADLINE_MS)]);
  let session: HostSession | undefined;
  try {
    session = await HostSession.open(engine, host, {
      agentSocket: options.agentSocket,
      readOnlySocket: options.agentRoSocket,
      callMs: Math.min(options.timeouts.callMs, PROBE_DEADLINE_MS),
      signal: deadline,
      needs: ['domain.describe'],
    });
    const described = await session.call(session.clients.domain, session.clients.domain.describeDomain, { name: vm }, deadline);
    return { kind: 'state', state: (described.domain?.state ?? 'DOMAIN_STATE_UNSPECIFIED').replace('DOMAIN_STATE_', '').toLowerCase() };
  } catch (thrown) {
    // The user's own Ctrl-C is not an unreachable host.
    signal.throwIfAborted();
    const err = normalizeSshError(thrown);
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return { kind: 'absent' };
    if (deadline.aborted) return { kind: 'unreachable', reason: `no answer within ${PROBE_DEADLINE_MS / 1000} s` };
    if (err instanceof KvmcloneError && UNREACHABLE.has(err.code)) return { kind: 'unreachable', reason: err.message };
    throw err;
  } finally {
    await session?.close().catch(() => undefined);
  }
}

/** What the failover may do, and what it records of the source. */
export interface FailoverVerdict {
  source: SourceAtFailover;
  /** A sentence for the output (why the failover is safe, or on whose word). */
  note: string;
}

/** Decides from the probe whether the copy may be started; FAILED_PRECONDITION (exit 3) says why not. */
export function decideFailover(probe: SourceProbe, force: boolean, names: { vm: string; from: string; replica: string }): FailoverVerdict {
  const { vm, from, replica } = names;
  if (probe.kind === 'absent') return { source: 'absent', note: `${from} has no VM named ${vm}: nothing there can run it` };
  if (probe.kind === 'unreachable') {
    if (!force) {
      throw failedPrecondition(
        `${from} cannot be reached (${probe.reason}), so whether ${vm} still runs there is unknown; starting the copy could run two ${vm}s writing their own disks (split brain). If ${from} is down, or ${vm} is confirmed off, run kvmctl failover ${replica} --force`,
      );
    }
    return { source: 'unreachable', note: `${from} cannot be reached (${probe.reason}); failing over on --force: ${vm} there may hold writes the copy never saw` };
  }
  if (probe.state === 'shutoff') return { source: 'shutoff', note: `${vm} on ${from} is shut off` };
  if (probe.state === 'crashed') return { source: 'crashed', note: `${vm} on ${from} crashed: its disks may hold writes the copy never saw` };
  const state = probe.state === 'shutdown' ? 'shutting down' : probe.state;
  throw failedPrecondition(
    `${vm} on ${from} is ${state}: failing over now would run two ${vm}s (split brain); shut it down on ${from} first${force ? ' (--force only overrides a host that cannot be reached)' : ''}`,
  );
}
