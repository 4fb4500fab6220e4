/**
 * What GetInfo says this agent is: the build's version and capabilities.
 *
 * For compatibility tests (and an operator rehearsing a mixed-version
 * upgrade), the agent can present itself as an older one: the environment
 * variables KVMCLONE_AGENT_REPORT_VERSION (a version) and
 * KVMCLONE_AGENT_HIDE_CAPABILITIES (a comma-separated list of capability
 * names) change only what is advertised — kvmctl then refuses, before it
 * starts, an operation that needs what is hidden, exactly as it refuses it
 * against a real older agent. Unknown names or a malformed version stop the
 * agent at start rather than being ignored.
 */
import { AGENT_CAPABILITIES, type AgentCapability } from '../../shared/capabilities.js';
import { KVMCLONE_VERSION } from '../../shared/version.js';

/** The identity GetInfo reports. */
export interface AdvertisedIdentity {
  version: string;
  capabilities: AgentCapability[];
  /** True when the environment changed it (logged at start). */
  emulated: boolean;
}

const VERSION_PATTERN = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/;

/** Reads the identity from `env`; throws (naming the variable) on a bad value. */
export function advertisedIdentity(env: NodeJS.ProcessEnv = process.env): AdvertisedIdentity {
  const version = env.KVMCLONE_AGENT_REPORT_VERSION ?? '';
  if (version !== '' && !VERSION_PATTERN.test(version)) throw new Error(`KVMCLONE_AGENT_REPORT_VERSION: ${JSON.stringify(version.slice(0, 40))} is not a version (e.g. 0.1.0)`);
  const hide = (env.KVMCLONE_AGENT_HIDE_CAPABILITIES ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  const unknown = hide.filter((c) => !(AGENT_CAPABILITIES as readonly string[]).includes(c));
  if (unknown.length > 0)
    throw new Error(`KVMCLONE_AGENT_HIDE_CAPABILITIES: ${unknown.join(', ')} ${unknown.length === 1 ? 'is not a capability' : 'are not capabilities'} of this agent`);
  return {
    version: version || KVMCLONE_VERSION,
    capabilities: AGENT_CAPABILITIES.filter((c) => !hide.includes(c)),
    emulated: version !== '' || hide.length > 0,
  };
}
