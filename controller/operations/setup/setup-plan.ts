/**
 * What `kvmctl hosts setup` will do on a host, decided before anything is
 * changed: a refusal (nothing is touched), or the steps — install or upgrade
 * the package, enable, start or restart the agent, the SSH account — each
 * only when the host needs it, so a second run has no step but the account's
 * own checks and says that nothing changed.
 */
import type { HostState } from './host-probe.js';
import type { PackageFile } from './package-file.js';

/** The agent's systemd unit, as the package installs it. */
export const AGENT_UNIT = 'kvmclone-agent.service';

/** One change setup may make. */
export type SetupStep =
  | { readonly kind: 'install' }
  | { readonly kind: 'upgrade'; readonly from: string }
  | { readonly kind: 'enable' }
  | { readonly kind: 'start' }
  | { readonly kind: 'restart' }
  | { readonly kind: 'account'; readonly name: string };

/** The decision: steps in order, or why setup changes nothing. */
export type SetupPlan = { readonly refusal: string } | { readonly refusal?: undefined; readonly steps: readonly SetupStep[] };

/**
 * Decides. `busy` lists the operations the host's agent holds (asked only
 * when an upgrade would restart it): an upgrade waits for them, since a
 * restart mid-transfer costs the operation a reconnect at best.
 */
export function planSetup(host: string, state: HostState, pkg: PackageFile, request: { account?: string }, busy: readonly string[]): SetupPlan {
  if (state.uid !== 0 && !state.hasSudo) return { refusal: `${host}: the login is not root and has no sudo: log in as root, or as a user that may run sudo without a password` };
  if (state.architecture === '') return { refusal: `${host}: no dpkg there: kvmctl hosts setup installs a Debian package (Debian or Ubuntu hosts)` };
  if (pkg.architecture !== 'all' && pkg.architecture !== state.architecture) return { refusal: `${host} is ${state.architecture}; ${pkg.path} is built for ${pkg.architecture}` };
  if (!state.systemd) {
    return {
      refusal: `${host} does not run systemd (systemctl is-system-running): hosts setup starts kvmclone-agent.service with systemctl; install the package there with apt-get and start /usr/sbin/kvmclone-agent with the host's service manager`,
    };
  }
  if (state.order === 'newer')
    return { refusal: `${host} has kvmclone ${state.installed ?? '?'}, newer than ${pkg.version} in ${pkg.path}: not downgraded (remove it first if that is what you want)` };
  const upgrade = state.order === 'older';
  if (upgrade && busy.length > 0) {
    return {
      refusal: `${host}: its agent holds operation${busy.length > 1 ? 's' : ''} ${busy.join(', ')}; the upgrade restarts it: run setup again when ${busy.length > 1 ? 'they finish' : 'it finishes'} (nothing was changed)`,
    };
  }
  const steps: SetupStep[] = [];
  if (state.order === 'none') steps.push({ kind: 'install' });
  if (upgrade) steps.push({ kind: 'upgrade', from: state.installed ?? '?' });
  if (!state.enabled) steps.push({ kind: 'enable' });
  if (upgrade) steps.push({ kind: 'restart' });
  else if (!state.active || state.order === 'none') steps.push({ kind: 'start' });
  if (request.account !== undefined) steps.push({ kind: 'account', name: request.account });
  return { steps };
}

/** A step in words: as planned (--dry-run: "would …") and as done. */
export function stepWords(step: SetupStep, pkg: PackageFile): { plan: string; done: string } {
  const unit = AGENT_UNIT;
  switch (step.kind) {
    case 'install':
      return { plan: `install kvmclone ${pkg.version} (apt-get install, dependencies included)`, done: `installed kvmclone ${pkg.version}` };
    case 'upgrade':
      return { plan: `upgrade kvmclone ${step.from} → ${pkg.version}`, done: `upgraded kvmclone ${step.from} → ${pkg.version}` };
    case 'enable':
      return { plan: `enable ${unit} (started at boot)`, done: `enabled ${unit}` };
    case 'start':
    case 'restart':
      return { plan: `${step.kind} ${unit}${step.kind === 'restart' ? ' (the new version)' : ''}`, done: `${step.kind}ed ${unit}` };
    case 'account':
      return {
        plan: `set up the SSH account ${step.name}: create it if missing (no shell, group kvmclone), authorize the key for socket forwarding only`,
        done: `set up the SSH account ${step.name}`,
      };
  }
}
