/**
 * The ssh config reader and evaluator against OpenSSH's rules: keyword forms,
 * quoting, Host patterns, first-obtained-wins, Include (globs, ~/.ssh,
 * conditional), Match all / host, and clear refusals for what the ssh2
 * engine cannot honour.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateSshConfig, parseTimeS, readSshConfig, SshConfigError, type SshHostOptions } from '../../controller/transport/ssh-config.js';
import { splitArgs } from '../../controller/transport/ssh-config-read.js';
import { matchPattern, matchPatternList } from '../../controller/transport/ssh-pattern.js';
import { cipherList } from '../../controller/transport/ssh2-session.js';

const AT = { file: 'f', line: 1 };

async function home(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-sshcfg-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

async function evaluate(text: string, host: string, extra: Record<string, string> = {}): Promise<SshHostOptions> {
  const dir = await home({ '.ssh/config': text, ...extra });
  return evaluateSshConfig(await readSshConfig(join(dir, '.ssh/config'), dir), host);
}

test('patterns: * and ? globs, negation vetoes a list, case rules', () => {
  assert.equal(matchPattern('web1.lan', '*.lan'), true);
  assert.equal(matchPattern('web1.lan', 'web?.lan'), true);
  assert.equal(matchPattern('web12.lan', 'web?.lan'), false);
  assert.equal(matchPattern('a*b', 'a*b'), true);
  assert.equal(matchPattern('abcbd', 'a*b*d'), true);
  assert.equal(matchPattern('abc', 'a*b'), false);
  assert.equal(matchPattern('', '*'), true);
  assert.equal(matchPattern('Web.lan', 'web.lan'), false);
  assert.equal(matchPatternList('web.lan', '*.lan,!gw.lan', true), 1);
  assert.equal(matchPatternList('gw.lan', '*.lan,!gw.lan', true), -1);
  assert.equal(matchPatternList('GW.LAN', '!gw.lan,*.lan', true), -1);
  assert.equal(matchPatternList('x.org', '*.lan', true), 0);
});

test('argument splitting: quotes, escapes, trailing comments, unterminated quotes', () => {
  assert.deepEqual(splitArgs('a "b c" \'d e\' f\\ g', AT), ['a', 'b c', 'd e', 'f g']);
  assert.deepEqual(splitArgs('"x\\"y" z # comment here', AT), ['x"y', 'z']);
  assert.deepEqual(splitArgs('a#b', AT), ['a#b']);
  assert.throws(() => splitArgs('"open', { file: 'cfg', line: 7 }), /cfg:7: unterminated " quote/);
});

test('keyword forms: case-insensitive, key=value, key = value, quoted values, comments', async () => {
  const o = await evaluate(
    ['# a comment', '', 'HOST box', '  hostname=10.0.0.5', '  USER = admin', '\tPort\t2222', '  IdentityFile "/keys/my key"', '  identitiesonly yes # trailing'].join('\n'),
    'box',
  );
  assert.equal(o.hostName, '10.0.0.5');
  assert.equal(o.user, 'admin');
  assert.equal(o.port, 2222);
  assert.deepEqual(o.identityFiles, ['/keys/my key']);
  assert.equal(o.identitiesOnly, true);
});

test('Host: wildcards, several patterns, negation; first obtained value wins; IdentityFile accumulates', async () => {
  const text = [
    'Host db? !db9 web',
    '  User dbuser',
    '  IdentityFile ~/.ssh/db',
    'Host *.example.org',
    '  HostName %h.internal',
    'Host *',
    '  User fallback',
    '  Port 2200',
    '  IdentityFile ~/.ssh/all',
  ].join('\n');
  const db1 = await evaluate(text, 'db1');
  assert.equal(db1.user, 'dbuser');
  assert.equal(db1.port, 2200);
  assert.deepEqual(db1.identityFiles, ['~/.ssh/db', '~/.ssh/all']);
  const db9 = await evaluate(text, 'db9');
  assert.equal(db9.user, 'fallback');
  assert.deepEqual(db9.identityFiles, ['~/.ssh/all']);
  assert.equal((await evaluate(text, 'web')).user, 'dbuser');
  assert.equal((await evaluate(text, 'db10')).user, 'fallback');
  assert.equal((await evaluate(text, 'a.example.org')).hostName, '%h.internal');
  // Host patterns are case-sensitive in OpenSSH
  assert.equal((await evaluate(text, 'DB1')).user, 'fallback');
});

test('lines before any Host apply to every host', async () => {
  const o = await evaluate('User early\nHost x\n  User late\n', 'x');
  assert.equal(o.user, 'early');
});

test('Include: relative to ~/.ssh, globs in sorted order, conditional inside a Host block', async () => {
  const text = ['Include conf.d/*.conf', 'Host only-b', '  Include ~/extra/b.conf', 'Host *', '  Port 2022'].join('\n');
  const files = {
    '.ssh/conf.d/10-a.conf': 'Host a\n  HostName a.first\n',
    '.ssh/conf.d/20-a.conf': 'Host a\n  HostName a.second\n  User from20\n',
    '.ssh/conf.d/.hidden.conf': 'Host a\n  User hidden\n',
    '.ssh/conf.d/notes.txt': 'Host a\n  User txt\n',
    'extra/b.conf': 'User included-b\n',
  };
  const a = await evaluate(text, 'a', files);
  assert.equal(a.hostName, 'a.first');
  assert.equal(a.user, 'from20');
  assert.equal(a.port, 2022);
  assert.equal((await evaluate(text, 'only-b', files)).user, 'included-b');
  assert.equal((await evaluate(text, 'other', files)).user, undefined);
});

test('Include: a Host line inside an included file does not leak into the including file', async () => {
  const text = ['Host a', '  Include inc.conf', '  User after-include', ''].join('\n');
  const o = await evaluate(text, 'a', { '.ssh/inc.conf': 'Host nomatch\n  Port 1\n' });
  assert.equal(o.user, 'after-include');
  assert.equal(o.port, undefined);
});

test('Include: a missing file includes nothing; a loop is an error naming the line', async () => {
  assert.equal((await evaluate('Include nope.conf\nUser u\n', 'x')).user, 'u');
  await assert.rejects(evaluate('Include config\n', 'x'), (err: unknown) => err instanceof SshConfigError && /config:1: Include nested more than 16 deep/.test(err.message));
});

test('Match all and Match host (which sees HostName obtained so far), negated and comma lists', async () => {
  const text = [
    'Host short',
    '  HostName %h.corp.example',
    'Match host *.corp.example,!bad.corp.example',
    '  User corp',
    'Match !host *.corp.example',
    '  User outsider',
    'Match all',
    '  Port 2201',
  ].join('\n');
  const short = await evaluate(text, 'short');
  assert.equal(short.user, 'corp');
  assert.equal(short.port, 2201);
  assert.equal((await evaluate(text, 'BAD.corp.example')).user, undefined);
  assert.equal((await evaluate(text, 'elsewhere')).user, 'outsider');
});

test('unsupported Match criteria are refused with file:line when they could apply, not silently skipped', async () => {
  await assert.rejects(
    evaluate('Match exec "test -f /x"\n  User u\n', 'h'),
    (err: unknown) => err instanceof SshConfigError && /config:1: "Match exec test -f \/x" is not supported by the ssh2 engine \(criteria exec/.test(err.message),
  );
  await assert.rejects(evaluate('Match user root host h\n  Port 1\n', 'h'), /criteria user/);
  // a false supported criterion rules the block out: no need to judge the rest
  assert.equal((await evaluate('Match host other exec false\n  Port 1\n', 'h')).port, undefined);
  // an unsupported Match inside a block that does not apply is never reached
  assert.equal((await evaluate('Host other\n  Include m.conf\n', 'h', { '.ssh/m.conf': 'Match localuser x\n' })).port, undefined);
  await assert.rejects(evaluate('Match all host x\n', 'h'), /cannot be combined/);
  await assert.rejects(evaluate('Match host\n', 'h'), /Match host needs an argument/);
});

test('ProxyJump vs ProxyCommand: first wins; ProxyCommand refused; ProxyJump none', async () => {
  assert.equal((await evaluate('Host h\n  ProxyJump j1,u@j2:2222\n  ProxyCommand nc %h %p\n', 'h')).proxyJump, 'j1,u@j2:2222');
  await assert.rejects(evaluate('Host h\n  ProxyCommand nc %h %p\n  ProxyJump j\n', 'h'), /config:2: ProxyCommand is not supported by the ssh2 engine/);
  assert.equal((await evaluate('Host h\n  ProxyCommand none\n', 'h')).proxyJump, undefined);
  const none = await evaluate('Host h\n  ProxyJump none\nHost *\n  ProxyJump j\n', 'h');
  assert.equal(none.proxyJump, undefined);
  assert.equal(none.proxyJumpNone, true);
  await assert.rejects(evaluate('CanonicalizeHostname yes\n', 'h'), /CanonicalizeHostname yes is not supported/);
  assert.equal((await evaluate('CanonicalizeHostname no\nCanonicalizeHostname yes\nPort 3\n', 'h')).port, 3);
});

test('known_hosts keywords, times, ciphers, ignored keywords', async () => {
  const o = await evaluate(
    [
      'Host h',
      '  UserKnownHostsFile ~/.ssh/kh1 "/etc/my kh"',
      '  UserKnownHostsFile /ignored',
      '  GlobalKnownHostsFile /etc/g1',
      '  StrictHostKeyChecking accept-new',
      '  ConnectTimeout 1m30s',
      '  ServerAliveInterval 15',
      '  Ciphers ^aes128-gcm@openssh.com',
      '  HashKnownHosts yes',
      '  ForwardAgent no',
      '  HostKeyAlias hostalias',
      '  IdentityAgent ~/agent.sock',
    ].join('\n'),
    'h',
  );
  assert.deepEqual(o.userKnownHostsFiles, ['~/.ssh/kh1', '/etc/my kh']);
  assert.deepEqual(o.globalKnownHostsFiles, ['/etc/g1']);
  assert.equal(o.strictHostKeyChecking, 'accept-new');
  assert.equal(o.connectTimeoutS, 90);
  assert.equal(o.serverAliveIntervalS, 15);
  assert.equal(o.ciphers, '^aes128-gcm@openssh.com');
  assert.equal(o.hostKeyAlias, 'hostalias');
  assert.equal(o.identityAgent, '~/agent.sock');
  assert.equal(parseTimeS('none', AT), 0);
  assert.equal(parseTimeS('1h2M', AT), 3720);
  assert.throws(() => parseTimeS('10x', AT), /not a time/);
});

test('VerifyHostKeyDNS, UpdateHostKeys and KnownHostsCommand widen no trust in the ssh2 engine (issue 10, hole 8)', async () => {
  const plain = ['Host h', '  HostName 192.0.2.9', '  UserKnownHostsFile /etc/kh'];
  const widening = ['  VerifyHostKeyDNS yes', '  UpdateHostKeys yes', '  KnownHostsCommand /bin/sh -c "echo h ssh-ed25519 AAAA"'];
  const expected = await evaluate(plain.join('\n'), 'h');
  for (const line of widening) {
    assert.deepEqual(await evaluate([...plain.slice(0, 1), line, ...plain.slice(1)].join('\n'), 'h'), expected, line);
  }
  const all = await evaluate([plain[0], ...widening, ...plain.slice(1)].join('\n'), 'h');
  assert.deepEqual(all, expected);
  assert.deepEqual(Object.keys(all).sort(), ['hostName', 'identityFiles', 'userKnownHostsFiles'], 'nothing of theirs is carried to the engine');
});

test('bad values name file and line', async () => {
  await assert.rejects(evaluate('Host h\n  Port 70000\n', 'h'), /config:2: bad port "70000"/);
  await assert.rejects(evaluate('Host h\n  IdentitiesOnly maybe\n', 'h'), /config:2: expected yes or no/);
  await assert.rejects(evaluate('Host h\n  User a b\n', 'h'), /config:2: expected one value, got 2/);
  await assert.rejects(evaluate('Host\n', 'h'), /config:1: Host needs at least one pattern/);
  await assert.rejects(evaluate('Host h\n  StrictHostKeyChecking sometimes\n', 'h'), /bad StrictHostKeyChecking/);
});

test('an absent config file is an empty config', async () => {
  const dir = await home({});
  assert.deepEqual(evaluateSshConfig(await readSshConfig(join(dir, 'nope'), dir), 'h'), { identityFiles: [] });
});

test('Ciphers: kvmctl preference, then the ssh config modifiers, only what ssh2 implements', () => {
  const defaults = cipherList([], undefined, 'h');
  assert.equal(defaults[0], 'aes128-gcm@openssh.com');
  assert.deepEqual(cipherList(['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com'], undefined, 'h'), ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com']);
  assert.deepEqual(cipherList(['aes128-ctr'], '^aes256-gcm@openssh.com', 'h'), ['aes256-gcm@openssh.com', 'aes128-ctr']);
  assert.deepEqual(cipherList(['aes128-ctr'], '+aes256-ctr', 'h'), ['aes128-ctr', 'aes256-ctr']);
  assert.ok(!cipherList([], '-aes*-gcm@openssh.com', 'h').some((c) => c.includes('gcm')));
  assert.deepEqual(cipherList([], 'aes256-ctr,nonsense-cipher', 'h'), ['aes256-ctr']);
  assert.throws(() => cipherList([], 'nonsense-cipher', 'h'), /none of the ciphers nonsense-cipher is implemented by ssh2/);
});
