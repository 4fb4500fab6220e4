import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_CIPHERS,
  FORCED_TRUST_OPTIONS,
  checkHost,
  checkSocketPath,
  destinationArgs,
  execArgs,
  findOpenSsh,
  masterArgs,
  masterCommand,
  muxArgs,
  sshOptionPath,
} from '../../controller/transport/openssh-args.js';
import { SshError, type SshSettings } from '../../controller/transport/ssh-engine.js';

const SSH = findOpenSsh();
const dir = mkdtempSync(join(tmpdir(), 'openssh-args-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** What ssh itself resolves from a command line (`ssh -G` connects nowhere). */
function resolved(args: string[]): Map<string, string> {
  assert.ok(SSH, 'ssh binary needed');
  const text = execFileSync(SSH, ['-G', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.indexOf(' ');
    if (at > 0 && !map.has(line.slice(0, at))) map.set(line.slice(0, at), line.slice(at + 1));
  }
  return map;
}

const lax = join(dir, 'lax_config');
writeFileSync(
  lax,
  [
    'Host h1',
    '  HostName 192.0.2.7',
    '  StrictHostKeyChecking no',
    '  BatchMode no',
    '  Ciphers aes256-ctr',
    '  ControlMaster auto',
    '  ControlPersist 10m',
    '  ForkAfterAuthentication yes',
    '  ExitOnForwardFailure no',
    '  ClearAllForwardings no',
    '  StreamLocalBindUnlink yes',
    '  UserKnownHostsFile /etc/should-not-win',
    '  VerifyHostKeyDNS yes',
    '  UpdateHostKeys yes',
    '  KnownHostsCommand /bin/sh -c "echo %H ssh-ed25519 AAAA"',
    '',
  ].join('\n'),
);
const settings = (over: Partial<SshSettings> = {}): SshSettings => ({
  configFile: lax,
  knownHostsFile: join(dir, 'known hosts%x'),
  connectTimeoutS: 7,
  keepaliveS: 15,
  ciphers: [],
  runtimeDir: dir,
  ...over,
});

test('findOpenSsh finds an executable ssh on PATH and nothing else', () => {
  const bin = join(dir, 'bin');
  const noexec = join(dir, 'noexec');
  execFileSync('mkdir', ['-p', bin, noexec]);
  writeFileSync(join(bin, 'ssh'), '#!/bin/sh\n');
  chmodSync(join(bin, 'ssh'), 0o755);
  writeFileSync(join(noexec, 'ssh'), '#!/bin/sh\n');
  chmodSync(join(noexec, 'ssh'), 0o644);
  assert.equal(findOpenSsh(`${noexec}:${bin}`), join(bin, 'ssh'));
  assert.equal(findOpenSsh(noexec), undefined);
  assert.equal(findOpenSsh('relative/bin:'), undefined);
  assert.equal(findOpenSsh(''), undefined);
});

test('the master command line wins over a lax config: strict keys, batch mode, our ciphers, a foreground master', { skip: !SSH }, () => {
  const control = join(dir, 'cm-1');
  const args = masterArgs(settings(), 'h1', control);
  assert.deepEqual(args.slice(-5), ['-v', '-N', '-T', '--', 'h1'], 'no remote command: the account may have no shell');
  const r = resolved(args);
  assert.equal(r.get('hostname'), '192.0.2.7');
  assert.equal(r.get('stricthostkeychecking'), 'true');
  assert.equal(r.get('batchmode'), 'yes');
  assert.equal(r.get('ciphers'), DEFAULT_CIPHERS.join(','));
  assert.equal(DEFAULT_CIPHERS[0], 'aes128-gcm@openssh.com');
  assert.equal(r.get('controlmaster'), 'true');
  assert.equal(r.get('controlpersist'), 'no');
  assert.equal(r.get('controlpath'), control);
  assert.equal(r.get('forkafterauthentication'), 'no');
  assert.equal(r.get('exitonforwardfailure'), 'yes');
  assert.equal(r.get('clearallforwardings'), 'yes');
  assert.equal(r.get('streamlocalbindunlink'), 'no');
  assert.equal(r.get('sessiontype'), 'none', 'no session: an account with a nologin shell serves the master');
  assert.equal(r.get('requesttty'), 'false');
  assert.equal(r.get('connecttimeout'), '7');
  assert.equal(r.get('serveraliveinterval'), '15');
  // one file whose name has a space and a '%', not two files and not a token
  assert.equal(r.get('userknownhostsfile'), join(dir, 'known hosts%x'));
});

test('a persisted master (ssh.persist) differs only in ControlPersist and its log file; the trust options stay', { skip: !SSH }, () => {
  const control = join(dir, 'cm-12');
  const plain = masterArgs(settings(), 'h1', control);
  const persisted = masterArgs(settings(), 'h1', control, { seconds: 599.2, logPath: join(dir, 'cm-12.log') });
  const r = resolved(persisted);
  assert.equal(r.get('controlpersist'), '600', 'whole seconds, rounded up');
  assert.equal(r.get('stricthostkeychecking'), 'true');
  assert.equal(r.get('controlpath'), control);
  const i = persisted.indexOf('-E');
  assert.equal(persisted[i + 1], join(dir, 'cm-12.log'));
  const without = [...persisted.slice(0, i), ...persisted.slice(i + 2)].map((a) => (a.startsWith('ControlPersist=') ? 'ControlPersist=no' : a));
  assert.deepEqual(without, plain);
});

test('the master runs under setpriv --pdeathsig when setpriv exists (it dies with kvmctl, even by SIGKILL), else ssh directly', () => {
  const control = join(dir, 'cm-11');
  const withSetpriv = masterCommand('/usr/bin/ssh', settings(), 'h1', control, '/usr/bin/setpriv');
  assert.equal(withSetpriv.file, '/usr/bin/setpriv');
  assert.deepEqual(withSetpriv.args.slice(0, 4), ['--pdeathsig', 'TERM', '--', '/usr/bin/ssh']);
  assert.deepEqual(withSetpriv.args.slice(4), masterArgs(settings(), 'h1', control));
  const without = masterCommand('/usr/bin/ssh', settings(), 'h1', control, null);
  assert.deepEqual(without, { file: '/usr/bin/ssh', args: masterArgs(settings(), 'h1', control) });
});

test('a config cannot widen host-key trust: no SSHFP from DNS, no key updates from the server, no KnownHostsCommand (issue 10, hole 8)', { skip: !SSH }, () => {
  // the lax config turns all three on for h1: ssh itself shows they are
  const own = resolved(['-F', lax, '-o', 'ForkAfterAuthentication=no', 'h1']);
  assert.equal(own.get('verifyhostkeydns'), 'true');
  assert.equal(own.get('updatehostkeys'), 'true');
  assert.match(own.get('knownhostscommand') ?? '', /echo/);
  for (const [what, args] of [
    ['master', masterArgs(settings(), 'h1', join(dir, 'cm-8'))],
    ['exec', execArgs(settings(), 'h1', join(dir, 'cm-9'), 'true').slice(0, -1)],
  ] as const) {
    const r = resolved(args);
    assert.equal(r.get('verifyhostkeydns'), 'false', what);
    assert.equal(r.get('updatehostkeys'), 'false', what);
    assert.equal(r.get('knownhostscommand'), undefined, `${what}: none (ssh -G prints no line for it)`);
    assert.equal(r.get('stricthostkeychecking'), 'true', what);
  }
  // ssh takes an option's FIRST value: each forced option must come before anything else could set it
  const args = masterArgs(settings(), 'h1', join(dir, 'cm-10'));
  for (const option of FORCED_TRUST_OPTIONS) {
    const key = option.slice(0, option.indexOf('=')).toLowerCase();
    const at = args.findIndex((a, i) => args[i - 1] === '-o' && a.toLowerCase().startsWith(`${key}=`));
    assert.equal(args[at], option, `${key} is given once, as forced`);
    assert.equal(args.filter((a) => a.toLowerCase().startsWith(`${key}=`)).length, 1, key);
  }
});

test('configured ciphers are used in the given order', { skip: !SSH }, () => {
  const r = resolved(masterArgs(settings({ ciphers: ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com'] }), 'h1', join(dir, 'cm-2')));
  assert.equal(r.get('ciphers'), 'chacha20-poly1305@openssh.com,aes128-gcm@openssh.com');
});

test('an absent config file means no config at all', { skip: !SSH }, () => {
  const args = masterArgs(settings({ configFile: join(dir, 'absent') }), 'h1', join(dir, 'cm-3'));
  assert.deepEqual(args.slice(0, 2), ['-F', 'none']);
  assert.equal(resolved(args).get('hostname'), 'h1');
});

test('mux requests read no config (a LocalForward there would ride along) and name the control socket', { skip: !SSH }, () => {
  const args = muxArgs('h1', join(dir, 'cm-4'), 'forward', ['-L', '/tmp/a.sock:/run/b.sock']);
  assert.deepEqual(args.slice(0, 2), ['-F', 'none']);
  assert.deepEqual(args.slice(-6), ['-O', 'forward', '-L', '/tmp/a.sock:/run/b.sock', '--', 'h1']);
  assert.equal(resolved(args).get('controlpath'), join(dir, 'cm-4'));
});

test("a remote command is one argument after the host, with the master's trust options", { skip: !SSH }, () => {
  const args = execArgs(settings(), 'h1', join(dir, 'cm-5'), "printf '%s' 'a b'");
  assert.deepEqual(args.slice(-3), ['--', 'h1', "printf '%s' 'a b'"]);
  const r = resolved(args.slice(0, -1));
  assert.equal(r.get('stricthostkeychecking'), 'true');
  assert.equal(r.get('clearallforwardings'), 'yes');
  assert.equal(r.get('controlmaster'), 'false');
});

test('HOST with a port becomes -p PORT before --, since ssh takes no host:port', { skip: !SSH }, () => {
  assert.deepEqual(destinationArgs('h1'), ['--', 'h1']);
  assert.deepEqual(destinationArgs('admin@h1'), ['--', 'admin@h1']);
  assert.deepEqual(destinationArgs('admin@h1:2222'), ['-p', '2222', '--', 'admin@h1']);
  assert.deepEqual(destinationArgs('[fd00::2]:2200'), ['-p', '2200', '--', 'fd00::2']);
  // the alias still matches its Host block (HostName from the config), the port from HOST wins
  const r = resolved(masterArgs(settings(), 'admin@h1:2222', join(dir, 'cm-6')));
  assert.equal(r.get('hostname'), '192.0.2.7');
  assert.equal(r.get('port'), '2222');
  assert.equal(r.get('user'), 'admin');
  const v6 = resolved(muxArgs('admin@[fd00::2]:2200', join(dir, 'cm-7'), 'check'));
  assert.equal(v6.get('hostname'), 'fd00::2');
  assert.equal(v6.get('port'), '2200');
  assert.throws(
    () => destinationArgs('h1:99999'),
    (e: unknown) => e instanceof SshError && e.kind === 'config',
  );
});

test('hosts that ssh could read as options, and unquotable or unsafe paths, are refused', () => {
  for (const host of ['-oProxyCommand=touch /tmp/x', '', 'a b', 'a\nb']) {
    assert.throws(
      () => checkHost(host),
      (e: unknown) => e instanceof SshError && e.kind === 'config',
      JSON.stringify(host),
    );
    assert.throws(
      () => destinationArgs(host),
      (e: unknown) => e instanceof SshError && e.kind === 'config',
      JSON.stringify(host),
    );
  }
  checkHost('root@hosta');
  for (const path of ['relative/k', '/tmp/a"b', '/tmp/a\\b', '/tmp/${HOME}/k', '/tmp/a\nb']) {
    assert.throws(() => sshOptionPath('h1', 'identity file', path), SshError, JSON.stringify(path));
  }
  assert.equal(sshOptionPath('h1', 'x', '/tmp/a b%c'), '"/tmp/a b%%c"');
  for (const path of ['/run/a:b.sock', 'run/a.sock', '/run/a b.sock', '/run/%h.sock', '/run/../etc/x', `/run/${'x'.repeat(110)}`]) {
    assert.throws(
      () => checkSocketPath('h1', 'socket', path),
      (e: unknown) => e instanceof SshError && e.kind === 'forward',
      path,
    );
  }
  checkSocketPath('h1', 'socket', '/run/kvmclone/op-12_ab.sock');
});
