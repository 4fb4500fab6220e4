/**
 * `kvmctl hosts setup`'s decisions, without a host: the probe's output read
 * back, the package's control fields, account names and public keys checked,
 * and the plan — install on a bare host, nothing on a second run, an upgrade
 * that restarts the agent only when it holds no operation, no downgrade, no
 * host without systemd, dpkg or a root login.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asRoot, parseProbe, type HostState } from '../../controller/operations/setup/host-probe.js';
import { parsePackageFields, type PackageFile } from '../../controller/operations/setup/package-file.js';
import { planSetup, stepWords } from '../../controller/operations/setup/setup-plan.js';
import { checkAccountName, checkPublicKey } from '../../controller/operations/setup/ssh-account.js';

const pkg: PackageFile = { path: '/tmp/kvmclone_0.9.0_amd64.deb', version: '0.9.0', architecture: 'amd64' };
const bare: HostState = { uid: 0, hasSudo: false, architecture: 'amd64', installed: null, order: 'none', systemd: true, enabled: false, active: false };
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlQ1uN8Zbx7lYw7v9w5n0x3kq2mVjUuHt3dF0pQvP3r me@ws';

test('the probe: a bare Debian host, one with the package, one without systemd', () => {
  const text = (installed: string, order: string, systemd: string, enabled = '', active = ''): string =>
    `uid=0\nsudo=/usr/bin/sudo\narch=amd64\ninstalled=${installed}\norder=${order}\nsystemd=${systemd}\nenabled=${enabled}\nactive=${active}\n`;
  assert.deepEqual(parseProbe('h', text('', 'none', 'running', 'disabled', 'inactive')), { ...bare, hasSudo: true });
  assert.deepEqual(parseProbe('h', text('ii |0.8.1', 'older', 'degraded', 'enabled', 'active')), {
    ...bare,
    hasSudo: true,
    installed: '0.8.1',
    order: 'older',
    enabled: true,
    active: true,
  });
  // removed but not purged ("rc") is not installed
  assert.equal(parseProbe('h', text('rc |0.8.1', 'none', 'running')).installed, null);
  assert.equal(parseProbe('h', text('', 'none', 'offline')).systemd, false);
  assert.throws(() => parseProbe('h', 'This account is currently not available.\n'), /did not say who we are/);
});

test('the package: kvmclone only, with a usable version and architecture', () => {
  assert.deepEqual(parsePackageFields('/p.deb', 'Package: kvmclone\nVersion: 0.9.0\nArchitecture: amd64\n'), { path: '/p.deb', version: '0.9.0', architecture: 'amd64' });
  assert.equal(parsePackageFields('/p.deb', 'Package: kvmclone\nVersion: 1:0.9.0~rc1+deb12u1\nArchitecture: amd64\n').version, '1:0.9.0~rc1+deb12u1');
  assert.throws(() => parsePackageFields('/p.deb', 'Package: hello\nVersion: 1\nArchitecture: amd64\n'), /not the kvmclone package/);
  assert.throws(() => parsePackageFields('/p.deb', 'Package: kvmclone\nVersion: $(reboot)\nArchitecture: amd64\n'), /unusable Version/);
});

test('account names and public keys are checked before anything is sent', () => {
  assert.equal(checkAccountName('kvmclone'), 'kvmclone');
  for (const bad of ['root', 'Kvm', '-x', 'a b', 'x'.repeat(32), "k';reboot"]) assert.throws(() => checkAccountName(bad), /--account/, bad);
  assert.equal(checkPublicKey('k.pub', `${KEY}\n`), KEY);
  assert.equal(
    checkPublicKey('k.pub', '# a comment\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlQ1uN8Zbx7lYw7v9w5n0x3kq2mVjUuHt3dF0pQvP3r\n'),
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlQ1uN8Zbx7lYw7v9w5n0x3kq2mVjUuHt3dF0pQvP3r',
  );
  assert.throws(
    () => checkPublicKey('k', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n'),
    /one key line|not an OpenSSH public key/,
  );
  assert.throws(() => checkPublicKey('k', 'command="reboot" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlQ1uN8Zbx7lYw7v9w5n0x3kq2mVjUuHt3dF0pQvP3r\n'), /not an OpenSSH public key/);
  assert.throws(() => checkPublicKey('k', `${KEY}\n${KEY}\n`), /one key line, found 2/);
  assert.throws(() => checkPublicKey('k', 'ssh-ed25519 AAAA$(x)\n'), /malformed/);
});

test('a bare host: install, enable, start, then the account', () => {
  const plan = planSetup('h', bare, pkg, { account: 'kvmclone' }, []);
  assert.equal(plan.refusal, undefined);
  assert.deepEqual('steps' in plan && plan.steps.map((s) => s.kind), ['install', 'enable', 'start', 'account']);
  assert.match(stepWords({ kind: 'install' }, pkg).plan, /install kvmclone 0\.9\.0/);
  assert.equal(stepWords({ kind: 'restart' }, pkg).done, 'restarted kvmclone-agent.service');
  assert.equal(stepWords({ kind: 'upgrade', from: '0.8.1' }, pkg).done, 'upgraded kvmclone 0.8.1 → 0.9.0');
});

test('a second run: no step but the account check', () => {
  const done: HostState = { ...bare, installed: '0.9.0', order: 'same', enabled: true, active: true };
  assert.deepEqual(planSetup('h', done, pkg, {}, []), { steps: [] });
  assert.deepEqual(planSetup('h', done, pkg, { account: 'kvmclone' }, []), { steps: [{ kind: 'account', name: 'kvmclone' }] });
  // installed but stopped: started again, not reinstalled
  assert.deepEqual(planSetup('h', { ...done, active: false }, pkg, {}, []), { steps: [{ kind: 'start' }] });
});

test('an upgrade restarts the agent, and waits while it holds operations', () => {
  const old: HostState = { ...bare, installed: '0.8.1', order: 'older', enabled: true, active: true };
  assert.deepEqual(planSetup('h', old, pkg, {}, []), { steps: [{ kind: 'upgrade', from: '0.8.1' }, { kind: 'restart' }] });
  const busy = planSetup('h', old, pkg, {}, ['op-1', 'op-2']);
  assert.match(busy.refusal ?? '', /holds operations op-1, op-2.*nothing was changed/);
});

test('refusals, before any change: newer installed, no systemd, no dpkg, other architecture, no root', () => {
  assert.match(planSetup('h', { ...bare, installed: '1.0.0', order: 'newer' }, pkg, {}, []).refusal ?? '', /newer than 0\.9\.0.*not downgraded/);
  assert.match(planSetup('h', { ...bare, systemd: false }, pkg, {}, []).refusal ?? '', /does not run systemd/);
  assert.match(planSetup('h', { ...bare, architecture: '' }, pkg, {}, []).refusal ?? '', /no dpkg/);
  assert.match(planSetup('h', { ...bare, architecture: 'arm64' }, pkg, {}, []).refusal ?? '', /arm64.*built for amd64/);
  assert.match(planSetup('h', { ...bare, uid: 1000 }, pkg, {}, []).refusal ?? '', /not root and has no sudo/);
  // a user with sudo runs root's commands through sudo -n
  const user = { ...bare, uid: 1000, hasSudo: true };
  assert.equal(planSetup('h', user, pkg, {}, []).refusal, undefined);
  assert.deepEqual(asRoot(user, ['systemctl', 'start', 'x']), ['sudo', '-n', '--', 'systemctl', 'start', 'x']);
  assert.deepEqual(asRoot(bare, ['systemctl', 'start', 'x']), ['systemctl', 'start', 'x']);
});
