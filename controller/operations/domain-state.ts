/**
 * A libvirt domain state as the agent reports it (`DOMAIN_STATE_SHUTOFF`)
 * in the words messages use (`shutoff`).
 */

/** `DOMAIN_STATE_RUNNING` → `running`; a missing state is `unknown`. */
export function domainStateName(state: string | undefined): string {
  return (state ?? 'unknown').replace('DOMAIN_STATE_', '').toLowerCase();
}
