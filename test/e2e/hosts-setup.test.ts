/**
 * `kvmctl hosts setup` (issue 14) on a testbed host whose /usr, /etc and
 * /var are overlays of this machine's (ROOT_OVERLAY=1), so its packages are
 * its own: the package purged there first (a bare host), then a dry run
 * that changes nothing, a setup as root that installs the .deb scripts/test
 * built, starts the agent from the installed unit, sets up an SSH account
 * and ends with a passing `hosts check`; then a second run that changes
 * nothing and leaves the agent running as it was. systemd is the testbed's
 * stand-in (test/testbed/systemctl-shim.sh): neither the testbed nor CI has
 * systemd.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { kvmctl, type KvmctlRun } from '../support/kvmctl.js';
import { E2E_DIR, hostDown, hostExec, hostUp } from '../support/testbed.js';
import { KVMCLONE_VERSION } from '../../shared/version.js';
import { INSTALLED } from '../support/installed-package.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

const HOST = 'hostd';
const PACKAGE = fileURLToPath(new URL(`../../package/kvmclone_${KVMCLONE_VERSION}_amd64.deb`, import.meta.url));
const CLIENT_KEY = join(E2E_DIR, 'client', 'id_ed25519.pub');
const ACCOUNT = 'kvmsetup';
const skip = existsSync(PACKAGE) ? false : `${PACKAGE} is not built (scripts/test builds it when run as root)`;
let state: string;

function said(out: KvmctlRun): string {
  return `${out.stdout.slice(-4000)}\n${out.stderr.slice(-3000)}`;
}

const sh = (script: string): Promise<string> => hostExec(HOST, ['sh', '-c', script]);
const agentPid = async (): Promise<string> => (await sh('cat /run/kvmclone-testbed-systemctl/agent.pid 2>/dev/null || true')).trim();

before(async () => {
  if (skip !== false) return;
  await hostDown(HOST);
  await hostUp(HOST, 7, { ROOT_OVERLAY: '1', AGENT_CMD: '' });
  // a bare host: whatever this machine has installed is purged in the host's overlay only
  await sh('dpkg --purge kvmclone >/dev/null 2>&1 || true');
  state = await mkdtemp(join(tmpdir(), 'kvmclone-setup-e2e-'));
});

after(async () => {
  if (skip !== false) return;
  await hostDown(HOST);
  await rm(state, { recursive: true, force: true });
});

test('a bare host: the dry run says what it would do and changes nothing', { skip }, async () => {
  assert.equal((await sh("dpkg-query -W -f='${Status}' kvmclone 2>/dev/null || echo none")).trim(), 'none', 'the host starts bare');
  if (INSTALLED) assert.equal(existsSync('/usr/sbin/kvmclone-agent'), true, "this machine keeps its own installation (the overlay is the host's only)");
  const out = await kvmctl(['hosts', 'setup', `${HOST}-root`, '--package', PACKAGE, '--account', ACCOUNT, '--key', CLIENT_KEY, '--dry-run'], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  assert.match(out.stdout, new RegExp(`would install kvmclone ${KVMCLONE_VERSION.replace(/\./g, '\\.')}`));
  assert.match(out.stdout, /would enable kvmclone-agent\.service/);
  assert.match(out.stdout, /would start kvmclone-agent\.service/);
  assert.match(out.stdout, new RegExp(`would set up the SSH account ${ACCOUNT}`));
  assert.equal((await sh('test -e /usr/sbin/kvmclone-agent && echo present || echo absent')).trim(), 'absent', 'nothing installed');
  assert.equal((await sh(`getent passwd ${ACCOUNT} >/dev/null && echo yes || echo no`)).trim(), 'no', 'no account made');
});

test('setup installs the package, starts the agent from its unit, sets up the account and ends with a passing hosts check', { skip }, async () => {
  const out = await kvmctl(['hosts', 'setup', `${HOST}-root`, '--package', PACKAGE, '--account', ACCOUNT, '--key', CLIENT_KEY], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  assert.match(out.stdout, new RegExp(`installed kvmclone ${KVMCLONE_VERSION.replace(/\./g, '\\.')}`));
  assert.match(out.stdout, /enabled kvmclone-agent\.service/);
  assert.match(out.stdout, /started kvmclone-agent\.service/);
  assert.match(out.stdout, new RegExp(`created the account ${ACCOUNT}`));
  assert.match(out.stdout, /sshd: settings checked \(sshd -t\) and reloaded/);
  assert.match(out.stdout, new RegExp(`${HOST}-root: ok — agent ${KVMCLONE_VERSION.replace(/\./g, '\\.')}`), 'ends with hosts check');

  // on the host: the package, the unit enabled, the agent the installed binary
  assert.match(await sh("dpkg-query -W -f='${Status} ${Version}' kvmclone"), new RegExp(`install ok installed ${KVMCLONE_VERSION.replace(/\./g, '\\.')}`));
  assert.equal((await sh('systemctl is-enabled kvmclone-agent.service')).trim(), 'enabled');
  const pid = await agentPid();
  assert.match(await sh(`tr '\\0' ' ' </proc/${pid}/cmdline`), /\/usr\/lib\/kvmclone\/node .*\/usr\/lib\/kvmclone\/dist\/agent\/main\.js --config \/etc\/kvmclone\/agent\.yaml/);
  // the account: a system user without a shell in the socket's group, the key for forwarding only, its sshd settings valid
  const passwd = (await sh(`getent passwd ${ACCOUNT}`)).trim().split(':');
  assert.equal(passwd[6], '/usr/sbin/nologin');
  assert.match(await sh(`id -nG ${ACCOUNT}`), /\bkvmclone\b/);
  const key = (await sh(`cat /etc/ssh/kvmclone/${ACCOUNT}.authorized_keys`)).trim();
  assert.equal(key.split('\n').length, 1);
  assert.ok(key.startsWith('restrict,port-forwarding ssh-ed25519 '), key);
  const effective = await sh(
    `sshd -T -C user=${ACCOUNT},host=controller,addr=192.0.2.1 | grep -i -e '^authorizedkeysfile' -e '^forcecommand' -e '^allowstreamlocalforwarding' -e '^permittty'`,
  );
  assert.match(effective, new RegExp(`authorizedkeysfile /etc/ssh/kvmclone/${ACCOUNT}\\.authorized_keys`));
  assert.match(effective, /forcecommand \/usr\/sbin\/nologin/);
  assert.match(effective, /allowstreamlocalforwarding yes/);
  assert.match(effective, /permittty no/);

  // kvmctl's everyday login (the testbed's account) reaches the agent setup started
  const check = await kvmctl(['hosts', 'check', HOST], { stateDir: state });
  assert.equal(check.code, 0, said(check));
  assert.match(check.stdout, /ssh account kvmclone/);
});

test('a second run changes nothing and says so; the agent keeps running as it was', { skip }, async () => {
  const pid = await agentPid();
  const keys = await sh(`cat /etc/ssh/kvmclone/${ACCOUNT}.authorized_keys; stat -c %Y /etc/ssh/sshd_config.d/kvmclone-${ACCOUNT}.conf`);
  const out = await kvmctl(['--json', 'hosts', 'setup', `${HOST}-root`, '--package', PACKAGE, '--account', ACCOUNT, '--key', CLIENT_KEY], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  assert.deepEqual(out.result?.changed, []);
  assert.deepEqual(out.result?.steps, [{ kind: 'account', name: ACCOUNT }], 'only the account is checked again');
  assert.equal((out.result?.check as { ok?: boolean } | null)?.ok, true);
  assert.equal(await agentPid(), pid, 'not restarted');
  assert.equal(
    await sh(`cat /etc/ssh/kvmclone/${ACCOUNT}.authorized_keys; stat -c %Y /etc/ssh/sshd_config.d/kvmclone-${ACCOUNT}.conf`),
    keys,
    'keys and sshd settings as they were',
  );
  const text = await kvmctl(['hosts', 'setup', `${HOST}-root`, '--package', PACKAGE], { stateDir: state });
  assert.equal(text.code, 0, said(text));
  assert.match(text.stdout, new RegExp(`${HOST}-root: nothing changed \\(kvmclone ${KVMCLONE_VERSION.replace(/\./g, '\\.')} installed, agent enabled and running\\)`));
});

test('a newer package upgrades the agent and restarts it; the older package is then refused (exit 3), nothing changed', { skip }, async () => {
  const newer = `${KVMCLONE_VERSION}+upgrade1`;
  const built = await run(join(REPO, 'scripts', 'package'), [state], { env: { ...process.env, KVMCLONE_PACKAGE_VERSION: newer }, maxBuffer: 16 << 20 });
  const deb = built.stdout.trim().split('\n').at(-1)?.split(' ')[0] ?? '';
  assert.ok(deb.endsWith(`kvmclone_${newer}_amd64.deb`), built.stdout);
  const pid = await agentPid();
  const out = await kvmctl(['hosts', 'setup', `${HOST}-root`, '--package', deb], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  assert.match(out.stdout, new RegExp(`upgraded kvmclone ${KVMCLONE_VERSION.replace(/\./g, '\\.')} → ${newer.replace(/[.+]/g, '\\$&')}`));
  assert.match(out.stdout, /restarted kvmclone-agent\.service/);
  assert.match(out.stdout, new RegExp(`${HOST}-root: ok — agent`));
  const upgraded = await agentPid();
  assert.notEqual(upgraded, pid, 'the agent was restarted');
  assert.equal((await sh("dpkg-query -W -f='${Version}' kvmclone")).trim(), newer);

  const down = await kvmctl(['--json', 'hosts', 'setup', `${HOST}-root`, '--package', PACKAGE], { stateDir: state });
  assert.equal(down.code, 3, said(down));
  assert.match(
    String((down.result?.error as { message?: string }).message),
    new RegExp(`has kvmclone ${newer.replace(/[.+]/g, '\\$&')}, newer than ${KVMCLONE_VERSION.replace(/\./g, '\\.')}.*not downgraded`),
  );
  assert.equal(await agentPid(), upgraded, 'not restarted');
  assert.equal((await sh("dpkg-query -W -f='${Version}' kvmclone")).trim(), newer, 'not downgraded');
});

test('bad input is refused before anything is sent: not a package, a private key, a bad account name', { skip }, async () => {
  const notDeb = await kvmctl(['hosts', 'setup', `${HOST}-root`, '--package', CLIENT_KEY], { stateDir: state });
  assert.equal(notDeb.code, 2, said(notDeb));
  assert.match(notDeb.stdout + notDeb.stderr, /not a readable Debian package/);
  const priv = await kvmctl(['hosts', 'setup', `${HOST}-root`, '--package', PACKAGE, '--account', ACCOUNT, '--key', CLIENT_KEY.replace(/\.pub$/, '')], { stateDir: state });
  assert.equal(priv.code, 2, said(priv));
  assert.match(priv.stdout + priv.stderr, /not an OpenSSH public key|one key line/);
  const name = await kvmctl(['hosts', 'setup', `${HOST}-root`, '--package', PACKAGE, '--account', 'root'], { stateDir: state });
  assert.equal(name.code, 2, said(name));
});
