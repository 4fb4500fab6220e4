/**
 * The set-up most e2e files share: hosta and hostb brought up fresh (a
 * previous run's hosts taken down first) with a kvmctl state directory of
 * the file's own, and both taken down again at the end.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostDown, hostUp } from './testbed.js';

/** Brings hosta (as host 1) and hostb (host 2) up fresh; returns a new state directory named for `name`. */
export async function upTwoHosts(name: string): Promise<string> {
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  return mkdtemp(join(tmpdir(), `kvmclone-${name}-e2e-`));
}

/** Takes both hosts down and removes the state directory. */
export async function downTwoHosts(state: string): Promise<void> {
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await rm(state, { recursive: true, force: true });
}
