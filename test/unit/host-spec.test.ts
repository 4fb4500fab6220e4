/**
 * HOST parsing and validation, and resolveHost(): the ssh config applied as
 * ssh would (user and port from HOST win), tokens and ~ expanded, defaults,
 * kvmctl's --known-hosts / --identity, IdentityAgent, ProxyJump chains.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseHostSpec, resolveHost, type ResolvedHost, type ResolveEnvironment } from '../../controller/transport/host-spec.js';
import { SshError, type SshSettings } from '../../controller/transport/ssh-engine.js';

const ENV: ResolveEnvironment = { home: '/home/me', localUser: 'me', localHostName: 'ctl.example.org', uid: 1000, env: { SSH_AUTH_SOCK: '/run/agent.sock', KEYS: '/keys' } };

async function settingsWith(config: string, extra: Partial<SshSettings> = {}): Promise<SshSettings> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-hostspec-'));
  await writeFile(join(dir, 'config'), config);
  return { configFile: join(dir, 'config'), connectTimeoutS: 10, keepaliveS: 20, ciphers: [], runtimeDir: dir, ...extra };
}

async function resolve(spec: string, config: string, extra: Partial<SshSettings> = {}, env: Partial<ResolveEnvironment> = {}): Promise<ResolvedHost> {
  return resolveHost(spec, await settingsWith(config, extra), { ...ENV, ...env });
}

test('HOST forms: alias, user@host, host:port, [v6]:port, bare v6', () => {
  assert.deepEqual(parseHostSpec('hosta'), { text: 'hosta', host: 'hosta' });
  assert.deepEqual(parseHostSpec('root@10.0.0.1:2222'), { text: 'root@10.0.0.1:2222', user: 'root', host: '10.0.0.1', port: 2222 });
  assert.deepEqual(parseHostSpec('admin@[fe80::1%eth0]:22'), { text: 'admin@[fe80::1%eth0]:22', user: 'admin', host: 'fe80::1%eth0', port: 22 });
  assert.deepEqual(parseHostSpec('[2001:db8::5]'), { text: '[2001:db8::5]', host: '2001:db8::5' });
  assert.deepEqual(parseHostSpec('2001:db8::5'), { text: '2001:db8::5', host: '2001:db8::5' });
  assert.deepEqual(parseHostSpec('u_1.x@kvm-01.lan'), { text: 'u_1.x@kvm-01.lan', user: 'u_1.x', host: 'kvm-01.lan' });
});

test('HOST validation: clear errors, kind config', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['-oProxyCommand=x', /starts with '-'/],
    ['host name', /contains " "/],
    ['a;reboot', /contains ";"/],
    ['$(id)@h', /contains "\$"/],
    ['h`x`', /contains "`"/],
    ["h'", /contains "'"/],
    ['a|b', /contains "\|"/],
    ['h\n', /contains "\\n"/],
    ['a@b@c', /more than one '@'/],
    ['@h', /user "" is not a valid user name/],
    ['h:0', /port "0"/],
    ['h:65536', /port "65536"/],
    ['h:22x', /port "22x"/],
    ['h:', /port ""/],
    ['[::1', /'\[' without '\]'/],
    ['[::1]x', /unexpected "x"/],
    ['a[b]', /only enclose an IPv6/],
    ['1:2:3', /not an IPv6 address/],
    ['h%x', /'%' is only allowed/],
    ['-', /starts with '-'/],
    ['.h', /not a valid host name/],
    ['user@', /no host name/],
  ];
  for (const [text, why] of cases) {
    assert.throws(
      () => parseHostSpec(text),
      (err: unknown) => err instanceof SshError && err.kind === 'config' && why.test(err.message) && /HOST is a Host alias/.test(err.message),
      text,
    );
  }
});

test('resolveHost: config values, HOST user and port win, defaults', async () => {
  const config = 'Host box\n  HostName 192.0.2.7\n  User cfguser\n  Port 2200\n';
  const r = await resolve('box', config);
  assert.equal(r.alias, 'box');
  assert.equal(r.hostName, '192.0.2.7');
  assert.equal(r.user, 'cfguser');
  assert.equal(r.port, 2200);
  assert.equal(r.hostKeyName, '192.0.2.7');
  assert.equal(r.connectTimeoutS, 10);
  assert.equal(r.serverAliveIntervalS, 20);
  assert.equal(r.identitiesOnly, false);
  assert.equal(r.identityAgent, '/run/agent.sock');
  assert.deepEqual(r.knownHostsFiles, ['/home/me/.ssh/known_hosts', '/home/me/.ssh/known_hosts2']);
  assert.deepEqual(r.globalKnownHostsFiles, ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);
  assert.deepEqual(r.identityFiles.slice(0, 3), ['/home/me/.ssh/id_rsa', '/home/me/.ssh/id_ecdsa', '/home/me/.ssh/id_ecdsa_sk']);
  assert.deepEqual(r.proxyJump, []);
  const over = await resolve('other@box:2300', config);
  assert.equal(over.user, 'other');
  assert.equal(over.port, 2300);
  const plain = await resolve('unknown.example', config);
  assert.equal(plain.hostName, 'unknown.example');
  assert.equal(plain.user, 'me');
  assert.equal(plain.port, 22);
});

test('resolveHost: IdentityFile tokens and ~ as OpenSSH expands them; --identity first; no defaults then', async () => {
  const config = [
    'Host box',
    '  HostName %h.lan',
    '  User admin',
    '  Port 2022',
    '  IdentityFile ~/.ssh/id_%h_%r',
    '  IdentityFile %d/keys/%u@%l-%L-%p-%n-%i',
    '  IdentityFile ${KEYS}/k%%1',
    '  IdentityFile ~me/.ssh/again',
    '  IdentityFile ~/.ssh/id_%h_%r',
    '  ConnectTimeout 3',
    '  ServerAliveInterval 0',
  ].join('\n');
  const r = await resolve('box', config, { identityFile: '~/extra_key' });
  assert.equal(r.hostName, 'box.lan');
  assert.deepEqual(r.identityFiles, [
    '/home/me/extra_key',
    '/home/me/.ssh/id_box.lan_admin',
    '/home/me/keys/me@ctl.example.org-ctl-2022-box-1000',
    '/keys/k%1',
    '/home/me/.ssh/again',
  ]);
  assert.equal(r.connectTimeoutS, 3);
  assert.equal(r.serverAliveIntervalS, 0);
  const onlyExtra = await resolve('x', '', { identityFile: '/abs/key' });
  assert.deepEqual(onlyExtra.identityFiles, ['/abs/key']);
});

test('resolveHost: token and environment errors are config errors naming the host', async () => {
  await assert.rejects(
    resolve('box', 'Host box\n  IdentityFile ~/%C\n'),
    (err: unknown) => err instanceof SshError && err.kind === 'config' && /unknown token %C/.test(err.message),
  );
  await assert.rejects(resolve('box', 'IdentityFile ${NOPE}/k\n'), /environment variable NOPE .* is not set/);
  await assert.rejects(resolve('box', 'IdentityFile ~bob/k\n'), /cannot expand ~bob/);
  await assert.rejects(resolve('box', 'IdentityFile k%\n'), /lone %/);
  await assert.rejects(resolve('box', 'Match exec true\n'), (err: unknown) => err instanceof SshError && err.kind === 'config' && err.host === 'box');
});

test('resolveHost: known_hosts from config (tokens, none), replaced by --known-hosts; HostKeyAlias', async () => {
  const config = 'Host box\n  UserKnownHostsFile ~/.ssh/kh_%h /etc/kh\n  GlobalKnownHostsFile none\n  HostKeyAlias boxkey\n';
  const r = await resolve('box', config);
  assert.deepEqual(r.knownHostsFiles, ['/home/me/.ssh/kh_box', '/etc/kh']);
  assert.deepEqual(r.globalKnownHostsFiles, []);
  assert.equal(r.hostKeyName, 'boxkey');
  const o = await resolve('box', config, { knownHostsFile: '~/only' });
  assert.deepEqual(o.knownHostsFiles, ['/home/me/only']);
  assert.deepEqual((await resolve('x', 'UserKnownHostsFile none\n')).knownHostsFiles, []);
});

test('resolveHost: IdentityAgent none, SSH_AUTH_SOCK, $VAR, path; absent agent', async () => {
  assert.equal((await resolve('x', 'IdentityAgent none\n')).identityAgent, undefined);
  assert.equal((await resolve('x', 'IdentityAgent SSH_AUTH_SOCK\n')).identityAgent, '/run/agent.sock');
  assert.equal((await resolve('x', 'IdentityAgent $KEYS\n')).identityAgent, '/keys');
  assert.equal((await resolve('x', 'IdentityAgent ~/.agent-%r\n')).identityAgent, '/home/me/.agent-me');
  assert.equal((await resolve('x', '', {}, { env: {} })).identityAgent, undefined);
  assert.equal((await resolve('x', 'IdentitiesOnly yes\n')).identitiesOnly, true);
});

test('resolveHost: ProxyJump chains flattened like ssh -J, each hop resolved by the config', async () => {
  const config = [
    'Host target',
    '  HostName 10.1.0.9',
    '  ProxyJump j2,ops@j3:2222',
    'Host j2',
    '  HostName j2.example',
    '  User jumper',
    '  ProxyJump bastion',
    'Host j3',
    '  HostName j3.example',
    '  ProxyJump ignored-for-a-listed-hop',
    'Host bastion',
    '  HostName bastion.example',
    '  Port 2201',
  ].join('\n');
  const r = await resolve('target', config);
  assert.deepEqual(
    r.proxyJump.map((h) => [h.alias, h.hostName, h.user, h.port, h.proxyJump.length]),
    [
      ['bastion', 'bastion.example', 'me', 2201, 0],
      ['j2', 'j2.example', 'jumper', 22, 0],
      ['j3', 'j3.example', 'ops', 2222, 0],
    ],
  );
  assert.deepEqual(
    (await resolve('x', 'Host x\n  ProxyJump ssh://u@[2001:db8::1]:2022\n')).proxyJump.map((h) => [h.user, h.hostName, h.port]),
    [['u', '2001:db8::1', 2022]],
  );
  assert.deepEqual((await resolve('j', 'Host j\n  ProxyJump none\nHost *\n  ProxyJump x\n')).proxyJump, []);
});

test('resolveHost: ProxyJump loops and bad hops are config errors', async () => {
  await assert.rejects(
    resolve('a', 'Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n'),
    (err: unknown) => err instanceof SshError && err.kind === 'config' && /ProxyJump chain deeper than 8/.test(err.message),
  );
  await assert.rejects(resolve('a', 'Host a\n  ProxyJump "b;rm"\n'), /contains ";"/);
});

test('resolveHost: an unreadable or syntactically bad config file is a config error', async () => {
  await assert.rejects(
    resolve('a', 'Host a\n  User "unterminated\n'),
    (err: unknown) => err instanceof SshError && err.kind === 'config' && /config:2: unterminated " quote/.test(err.message),
  );
  const settings = await settingsWith('');
  const missing = await resolveHost('a', { ...settings, configFile: join(settings.runtimeDir, 'absent') }, ENV);
  assert.equal(missing.hostName, 'a');
});

test('resolveHost agrees with OpenSSH itself (ssh -G) on a config with Host, Match host, tokens and ProxyJump', async () => {
  const config = [
    'Host box web?',
    '  HostName %h.example.org',
    '  User admin',
    '  IdentityFile ~/.ssh/id_%h_%r',
    '  IdentityFile /keys/%u-%p-%n',
    'Host web1',
    '  Port 2222',
    'Match host *.example.org',
    '  UserKnownHostsFile ~/.ssh/kh_%h /etc/x_%p',
    'Host jump1 jump2',
    '  ProxyJump none',
    'Host *',
    '  ProxyJump jump1,ops@jump2:2200',
    '  User nobody',
  ].join('\n');
  const settings = await settingsWith(config);
  const cases: Array<[string, string[]]> = [
    ['box', ['box']],
    ['web1', ['web1']],
    ['other@web2:2022', ['-l', 'other', '-p', '2022', 'web2']],
    ['plain.host', ['plain.host']],
    ['jump1', ['jump1']],
  ];
  for (const [spec, args] of cases) {
    const { stdout } = await promisify(execFile)('ssh', ['-F', settings.configFile!, '-G', ...args]);
    const g = new Map<string, string[]>();
    for (const line of stdout.split('\n')) {
      const [k, ...v] = line.split(' ');
      if (k) g.set(k, [...(g.get(k) ?? []), v.join(' ')]);
    }
    const r = await resolveHost(spec, settings); // the real home and user, as ssh sees them
    assert.equal(r.hostName, g.get('hostname')?.[0], spec);
    assert.equal(r.user, g.get('user')?.[0], spec);
    assert.equal(String(r.port), g.get('port')?.[0], spec);
    assert.deepEqual(r.knownHostsFiles, g.get('userknownhostsfile')?.[0]?.split(' '), spec);
    assert.deepEqual(r.globalKnownHostsFiles, g.get('globalknownhostsfile')?.[0]?.split(' '), spec);
    assert.equal(r.identityFiles.length, g.get('identityfile')?.length, spec);
    const jump = g.get('proxyjump')?.[0];
    assert.deepEqual(
      r.proxyJump.map((h) => h.spec),
      jump ? jump.split(',') : [],
      spec,
    );
  }
});
