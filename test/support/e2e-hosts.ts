/**
 * The set-up most e2e files share: hosta and hostb brought up fresh (a
 * previous run's hosts taken down first) with a kvmctl state directory of
 * the file's own, and taken down again at the end. A file that also needs a
 * third host (a destination with a small filesystem, say) asks for hostc.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostDown, hostUp } from './testbed.js';

/** hostc's environment for host-up.sh (e.g. `IMAGES_SIZE_MB`); without it only hosta and hostb come up. */
export interface HostsOptions {
  readonly hostc?: NodeJS.ProcessEnv;
}

/** The hosts a state directory was made with, so that downHosts takes down exactly those. */
const upWith = new Map<string, readonly string[]>();

/** Brings hosta (as host 1), hostb (host 2) and, when asked, hostc (host 3) up fresh; returns a new state directory named for `name`. */
export async function upHosts(name: string, options: HostsOptions = {}): Promise<string> {
  const hosts = options.hostc === undefined ? ['hosta', 'hostb'] : ['hosta', 'hostb', 'hostc'];
  await Promise.all(hosts.map(hostDown));
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  if (options.hostc !== undefined) await hostUp('hostc', 3, options.hostc);
  const state = await mkdtemp(join(tmpdir(), `kvmclone-${name}-e2e-`));
  upWith.set(state, hosts);
  return state;
}

/** Takes the hosts upHosts brought up for `state` down and removes the state directory. */
export async function downHosts(state: string): Promise<void> {
  await Promise.all((upWith.get(state) ?? ['hosta', 'hostb']).map(hostDown));
  upWith.delete(state);
  await rm(state, { recursive: true, force: true });
}
