/**
 * Group names of agent.yaml (`socket_group`, `ro_socket_group`) resolved the
 * way the rest of the host resolves them: through NSS (`getent group NAME`),
 * so a group served by LDAP or sssd works as well as one in /etc/group.
 * Reading /etc/group directly would silently miss such groups.
 */
import { CommandError, runCommand } from '../process/run-command.js';

/** How long one NSS lookup may take (a slow directory server must not hang start-up). */
const GETENT_TIMEOUT_MS = 10_000;

/** getent's exit code for "no such key" (getent(1)). */
const GETENT_NOT_FOUND = 2;

/**
 * The numeric id of `group` (a name, or an id given as a number or digits).
 * Throws an Error whose message names `key` and says why (no such group, or
 * getent failed); callers turn it into a config error.
 */
export async function resolveGroupId(group: string | number, key: string): Promise<number> {
  if (typeof group === 'number') return group;
  if (/^\d+$/.test(group)) return Number(group);
  let line: string;
  try {
    line = await runCommand('getent', ['group', group], { timeoutMs: GETENT_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof CommandError && err.exitCode === GETENT_NOT_FOUND) throw new Error(`${key}: no group named ${group} (getent group ${group} found none)`);
    throw new Error(`${key}: cannot look up group ${group}: ${err instanceof Error ? err.message : String(err)}`);
  }
  // name:password:gid:members — the first line is the one NSS chose.
  const gid = line.split('\n')[0]?.split(':')[2];
  if (gid === undefined || !/^\d+$/.test(gid)) throw new Error(`${key}: getent group ${group} answered something that is not a group entry`);
  return Number(gid);
}
