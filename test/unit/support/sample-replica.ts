/**
 * The replica the replication unit tests start from: web1 from hosta into
 * web1 on hostb every 15 minutes, no restore points, not live. Tests name
 * only the settings they are about.
 */
import type { ReplicaSpec } from '../../../controller/replication/replica-store.js';

/** The sample replica's settings, with `over` in place of any of them. */
export function sampleReplicaSpec(over: Partial<ReplicaSpec> = {}): ReplicaSpec {
  return { name: 'web1', vm: 'web1', from: 'hosta', to: 'hostb', destVm: 'web1', targetDir: null, everySeconds: 900, keep: null, live: false, ...over };
}
