/**
 * Looks at one replica as it is now and sends the notifications its change
 * of condition calls for (alert-transitions.ts). `kvmctl replicate` does this
 * after each run and for every replica at its end, `kvmctl status` for every
 * replica: an RPO breach is noticed by whichever runs first, and sent once.
 */
import { alertTransitions } from './alert-transitions.js';
import type { NotificationBody, Notifier } from './notifier.js';
import type { ReplicaStore } from './replica-store.js';
import { replicaStatus } from './replica-status.js';

/**
 * Sends what `name`'s condition calls for and returns what was sent. A paused
 * or failed-over replica is left alone (its lag grows on purpose), its
 * earlier alerts kept until it runs again.
 */
export function checkAlerts(store: ReplicaStore, name: string, notifier: Notifier, graceMs: number, now: number = Date.now()): NotificationBody[] {
  const bodies = store.transitionAlerts(name, (replica) => {
    const status = replicaStatus(replica, store.lastSuccess(name), now, graceMs);
    if (!status.scheduled) return { alerts: replica.alerts, value: [] };
    const { events, alerts } = alertTransitions(replica.alerts, { failing: replica.consecutiveFailures > 0, breached: !status.withinRpo });
    const at = new Date(now).toISOString();
    const value = events.map((event): NotificationBody => ({
      replica: name,
      event,
      at,
      vm: replica.vm,
      from: replica.from,
      to: replica.to,
      destVm: replica.destVm,
      state: status.state,
      lagSeconds: status.lagSeconds,
      rpoSeconds: status.rpoSeconds,
      consecutiveFailures: status.consecutiveFailures,
      lastError: status.lastError,
    }));
    return { alerts, value };
  });
  for (const body of bodies) notifier.send(body);
  return bodies;
}
