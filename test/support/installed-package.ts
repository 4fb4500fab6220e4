/**
 * What the e2e tests run: by default the built tree (dist/), and — when
 * scripts/test built the Debian package and installed it on this machine
 * (KVMCLONE_TEST_INSTALLED=1; the testbed hosts share its filesystem) — what
 * the package installed: kvmctl as /usr/bin/kvmctl, and each host's agent
 * started with the ExecStart line of the installed systemd unit, so a file
 * missing from the package fails a test.
 */
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** True when the tests run the installed package. */
export const INSTALLED = process.env.KVMCLONE_TEST_INSTALLED === '1';

/** Where debhelper puts the unit (compat 13 on Debian 12), and where newer layouts put it. */
const UNIT_PATHS = ['/lib/systemd/system/kvmclone-agent.service', '/usr/lib/systemd/system/kvmclone-agent.service'];

/** The built kvmctl. */
export const KVMCTL_MAIN = fileURLToPath(new URL('../../controller/main.js', import.meta.url));

/** The command line that runs kvmctl: the installed one, or node on the built tree. */
export function kvmctlCommand(): string[] {
  return INSTALLED ? ['/usr/bin/kvmctl'] : [process.execPath, KVMCTL_MAIN];
}

/** The installed unit's ExecStart command line; throws when the package is not installed. */
export function installedAgentCommand(): string {
  const unit = UNIT_PATHS.find((p) => existsSync(p));
  if (unit === undefined) throw new Error(`KVMCLONE_TEST_INSTALLED=1 but no kvmclone-agent.service is installed (${UNIT_PATHS.join(', ')})`);
  const line = /^ExecStart=(.+)$/m.exec(readFileSync(unit, 'utf8'))?.[1]?.trim();
  if (line === undefined || !line.startsWith('/')) throw new Error(`${unit} has no ExecStart with an absolute path`);
  return line;
}
