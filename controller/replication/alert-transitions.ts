/**
 * Which notifications a replica's current condition calls for, given the
 * ones already sent: each fires once per transition — `failed` when runs
 * start failing, `rpo-breached` when the lag goes past the RPO, `recovered`
 * when a replica that had either is healthy again — so a replica failing for
 * hours sends one message, not one a minute.
 */
import type { ReplicaAlerts } from './replica-store.js';

/** A notification's event. */
export type AlertEvent = 'failed' | 'rpo-breached' | 'recovered';

/** What is true of the replica now. */
export interface AlertCondition {
  /** Its last run failed (consecutive failures > 0). */
  failing: boolean;
  /** Its lag is past the RPO plus grace. */
  breached: boolean;
}

/** The events to send and the alerts to remember. */
export function alertTransitions(sent: ReplicaAlerts, now: AlertCondition): { events: AlertEvent[]; alerts: ReplicaAlerts } {
  if (!now.failing && !now.breached) {
    return { events: sent.failing || sent.breached ? ['recovered'] : [], alerts: { failing: false, breached: false } };
  }
  const events: AlertEvent[] = [];
  if (now.failing && !sent.failing) events.push('failed');
  if (now.breached && !sent.breached) events.push('rpo-breached');
  // A condition that cleared while the other holds is remembered as cleared, so it fires again if it comes back.
  return { events, alerts: { failing: now.failing, breached: now.breached } };
}
