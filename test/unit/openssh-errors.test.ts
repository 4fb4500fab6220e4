import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SshStderrCollector, muxRequestFailed, parseSshStderr, sshFailure, sshFailureKind } from '../../controller/transport/openssh-errors.js';

// stderr of `ssh -v -N` (OpenSSH_9.2p1 Debian-2+deb12u10) against a testbed host, captured for
// real; ssh ends its lines with \r\n. Long runs of unrelated debug lines are cut.
const lines = (...l: string[]): string => l.map((x) => `${x}\r\n`).join('');
const BANNER = 'OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026';
const FP = 'SHA256:WICBYF9ElMjdJzR5ugNtCrB2wGy5VWCjHE5i5HeIcpA';
const HANDSHAKE = [
  'debug1: Reading configuration data /tmp/ossh-exp/client/ssh_config',
  'debug1: Connecting to 169.254.241.2 [169.254.241.2] port 22.',
  'debug1: Connection established.',
  "debug1: Authenticating to 169.254.241.2:22 as 'root'",
  'debug1: kex: algorithm: sntrup761x25519-sha512',
  'debug1: kex: server->client cipher: aes128-gcm@openssh.com MAC: <implicit> compression: none',
  'debug1: kex: client->server cipher: aes128-gcm@openssh.com MAC: <implicit> compression: none',
  'debug1: SSH2_MSG_KEX_ECDH_REPLY received',
  `debug1: Server host key: ssh-ed25519 ${FP}`,
  'debug1: load_hostkeys: fopen /etc/ssh/ssh_known_hosts: No such file or directory',
];

const SAMPLES = {
  unknown: lines(BANNER, ...HANDSHAKE, 'No ED25519 host key is known for 169.254.241.2 and you have requested strict checking.', 'Host key verification failed.'),
  changed: lines(
    BANNER,
    ...HANDSHAKE,
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
    '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
    'IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!',
    'Someone could be eavesdropping on you right now (man-in-the-middle attack)!',
    'It is also possible that a host key has just been changed.',
    'The fingerprint for the ED25519 key sent by the remote host is',
    `${FP}.`,
    'Please contact your system administrator.',
    'Add correct host key in /tmp/ossh-samples/changed_kh to get rid of this message.',
    'Offending ED25519 key in /tmp/ossh-samples/changed_kh:1',
    '  remove with:',
    '  ssh-keygen -f "/tmp/ossh-samples/changed_kh" -R "169.254.241.2"',
    'Host key for 169.254.241.2 has changed and you have requested strict checking.',
    'Host key verification failed.',
  ),
  auth: lines(BANNER, ...HANDSHAKE, 'debug1: Authentications that can continue: publickey', 'root2@169.254.241.2: Permission denied (publickey).'),
  refused: lines(
    BANNER,
    'debug1: Connecting to 169.254.241.2 [169.254.241.2] port 23.',
    'debug1: connect to address 169.254.241.2 port 23: Connection refused',
    'ssh: connect to host 169.254.241.2 port 23: Connection refused',
  ),
  banner: lines(
    BANNER,
    'debug1: Connecting to 169.254.199.9 [169.254.199.9] port 22.',
    'debug1: Connection established.',
    'Connection timed out during banner exchange',
    'Connection to 169.254.199.9 port 22 timed out',
  ),
  resolve: lines(BANNER, 'ssh: Could not resolve hostname nosuchhost.invalid: Name or service not known'),
  keepalive: lines(BANNER, ...HANDSHAKE, 'Authenticated to 169.254.241.2 ([169.254.241.2]:22) using "publickey".', 'Timeout, server 169.254.241.2 not responding.'),
  badOption: lines(BANNER, '/tmp/ossh-samples/bad_config: line 2: Bad configuration option: bogusopt', '/tmp/ossh-samples/bad_config: terminating, 1 bad configuration options'),
  badCipher: lines("command-line line 0: Bad SSH2 cipher spec 'nosuch-cipher'."),
  noConfig: lines(BANNER, "Can't open user config file /nonexistent/cfg: No such file or directory"),
  noCipherMatch: lines(
    BANNER,
    'debug1: Connecting to 169.254.241.2 [169.254.241.2] port 22.',
    'Unable to negotiate with 169.254.241.2 port 22: no matching cipher found. Their offer: chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com',
  ),
} as const;

test('each real failure maps to its SshError kind', () => {
  const expected: Record<keyof typeof SAMPLES, string> = {
    unknown: 'unknown-host-key',
    changed: 'changed-host-key',
    auth: 'auth',
    refused: 'unreachable',
    banner: 'unreachable',
    resolve: 'unreachable',
    keepalive: 'unreachable',
    badOption: 'config',
    badCipher: 'config',
    noConfig: 'config',
    noCipherMatch: 'config',
  };
  for (const [name, text] of Object.entries(SAMPLES)) {
    assert.equal(sshFailureKind(parseSshStderr(text)), expected[name as keyof typeof SAMPLES], name);
  }
});

test('an unknown host key names the host, address:port and the fingerprint from the -v line', () => {
  const err = sshFailure('hosta', parseSshStderr(SAMPLES.unknown));
  assert.equal(err.kind, 'unknown-host-key');
  assert.equal(err.host, 'hosta');
  assert.equal(err.fingerprint, FP);
  assert.match(err.message, /^hosta: /);
  assert.ok(err.message.includes('169.254.241.2:22'), err.message);
  assert.ok(err.message.includes(`ssh-ed25519 ${FP}`), err.message);
});

test('a changed host key is not mistaken for an unknown one and names the offending entry', () => {
  const err = sshFailure('hosta', parseSshStderr(SAMPLES.changed));
  assert.equal(err.kind, 'changed-host-key');
  assert.equal(err.fingerprint, FP);
  assert.match(err.message, /CHANGED/);
  assert.match(err.message, /Offending ED25519 key in \/tmp\/ossh-samples\/changed_kh:1/);
});

test('debug noise, the version banner and traffic totals are dropped; the rest is kept without \\r', () => {
  const facts = parseSshStderr(SAMPLES.keepalive + lines('Transferred: sent 3980, received 3656 bytes, in 13.6 seconds', 'Bytes per second: sent 293.7, received 269.8'));
  assert.deepEqual(facts.lines, ['Timeout, server 169.254.241.2 not responding.']);
  assert.equal(facts.cipher, 'aes128-gcm@openssh.com');
  assert.equal(facts.address, '169.254.241.2:22');
  assert.match(sshFailure('hosta', facts).message, /^hosta: cannot reach 169\.254\.241\.2:22: Timeout, server/);
});

test('the collector gives the same facts however stderr is chunked', () => {
  const whole = parseSshStderr(SAMPLES.changed);
  for (const size of [1, 7, 64]) {
    const c = new SshStderrCollector();
    for (let i = 0; i < SAMPLES.changed.length; i += size) c.push(SAMPLES.changed.slice(i, i + size));
    assert.deepEqual(c.facts(), whole, `chunks of ${size}`);
  }
});

test('the collector keeps only the newest lines, so a long-lived master cannot grow without bound', () => {
  const c = new SshStderrCollector(3);
  for (let i = 0; i < 10; i += 1) c.push(`warning ${i}\r\ndebug1: noise ${i}\r\n`);
  c.push('partial');
  assert.deepEqual(c.facts().lines, ['warning 7', 'warning 8', 'warning 9', 'partial']);
});

test('an IPv6 address is bracketed in address:port', () => {
  // the 9.2 "Connecting to" line with a v6 address in place of the testbed's v4 one
  const facts = parseSshStderr(lines('debug1: Connecting to h6 [fd00::2] port 2222.'));
  assert.equal(facts.address, '[fd00::2]:2222');
});

test('mux client refusals are recognised even when ssh exits 0 (OpenSSH 9.2 -O cancel)', () => {
  // `ssh -O forward -R` to a path that exists on the host (exit 255) and `-O cancel` of an unknown forward (exit 0)
  assert.ok(
    muxRequestFailed(
      'mux_client_forward: forwarding request failed: remote port forwarding failed for listen path /run/test-1.sock\r\nmuxclient: master forward request failed\r\n',
    ),
  );
  assert.ok(muxRequestFailed('mux_client_forward: forwarding request failed: port not forwarded\r\nmuxclient: master cancel forward request failed\r\n'));
  assert.ok(muxRequestFailed('Control socket connect(/tmp/osx.tYUU/nope): No such file or directory\r\n'));
  assert.equal(muxRequestFailed(''), false);
  assert.equal(muxRequestFailed('Master running (pid=7467)\r\n'), false);
});

test('the login account is read from the "Authenticating to … as" line (hosts check names it)', () => {
  assert.equal(parseSshStderr(lines(...HANDSHAKE)).user, 'root');
  assert.equal(parseSshStderr(lines("debug1: Authenticating to 169.254.201.2:22 as 'kvmclone'")).user, 'kvmclone');
  assert.equal(parseSshStderr(lines('debug1: Connection established.')).user, undefined);
});
