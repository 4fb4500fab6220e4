/**
 * The ssh2 engine against the testbed: real sshd per host, reached through
 * the testbed's ssh_config (Include, Host alias, IdentityFile,
 * UserKnownHostsFile). The agent inside each host is called over
 * forwardToLocal; forwardToRemote is checked from inside the host; host-key
 * refusals are compared with ssh-keygen's fingerprints; ProxyJump goes
 * through hosta to hosta's own address (testbed hosts cannot reach each
 * other). Also prints the throughput of 1 GiB through a forwarded socket.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { access, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { resolveHost } from '../../controller/transport/host-spec.js';
import { SshError, type SshFailureKind, type SshSettings } from '../../controller/transport/ssh-engine.js';
import { Ssh2Engine, type Ssh2Connection } from '../../controller/transport/ssh2-engine.js';
import { E2E_DIR, forwardAgentSocket, hostDown, hostExec, hostUp, rootSshConfigPath } from '../support/testbed.js';

const run = promisify(execFile);
const CLIENT = join(E2E_DIR, 'client');
const AGENT_SOCK = '/run/kvmclone/agent.sock';
const T = { deadlineMs: 30_000 };

let tmp: string;
let settings: SshSettings;
let engine: Ssh2Engine;
let hosta: Ssh2Connection;
let hostb: Ssh2Connection;
const hostKeyFp = new Map<string, string>();

async function fingerprint(file: string): Promise<string> {
  return (await run('ssh-keygen', ['-lf', file])).stdout.split(' ')[1];
}

async function rejectsWith(promise: Promise<unknown>, kind: SshFailureKind, message: RegExp): Promise<SshError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SshError, `expected an SshError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected an SshError of kind ${kind}, but it succeeded`);
}

/** An ssh_config in tmp that adds Host entries and then includes the testbed's. */
async function configWith(name: string, lines: string[]): Promise<string> {
  const file = join(tmp, name);
  // Match all: an Include after a Host block would otherwise be part of that block
  await writeFile(file, [...lines, 'Match all', `Include ${rootSshConfigPath()}`, ''].join('\n'));
  return file;
}

before(async () => {
  await Promise.all([hostDown('hosta'), hostDown('hostb')]);
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  tmp = await mkdtemp(join(tmpdir(), 'kvmclone-ssh2-'));
  // root: these tests cover the engine's generic features, exec included (the kvmclone account runs no commands: e2e/account.test.ts)
  settings = { configFile: rootSshConfigPath(), connectTimeoutS: 10, keepaliveS: 15, ciphers: [], runtimeDir: join(tmp, 'rt') };
  engine = new Ssh2Engine(settings);
  for (const h of ['hosta', 'hostb']) hostKeyFp.set(h, await fingerprint(join(E2E_DIR, h, 'ssh', 'host_ed25519_key.pub')));
  // one connection per host, shared by the tests below (as kvmctl shares one per host across an operation)
  [hosta, hostb] = await Promise.all([engine.connect('hosta'), engine.connect('hostb')]);
});

after(async () => {
  await hosta?.close();
  await hostb?.close();
  await hostDown('hosta');
  await hostDown('hostb');
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('connects to both hosts through the testbed ssh_config, with aes128-gcm on the native binding', async () => {
  const sshcrypto = join(dirname(createRequire(import.meta.url).resolve('ssh2')), 'protocol/crypto/build/Release/sshcrypto.node');
  await access(sshcrypto);
  const resolved = await resolveHost('hosta', settings);
  assert.equal(resolved.hostName, '169.254.201.2'); // from $E2E/client/conf.d/hosta, reached by Include
  assert.deepEqual(resolved.identityFiles, [join(CLIENT, 'id_ed25519')]);
  assert.deepEqual(resolved.knownHostsFiles, [join(CLIENT, 'known_hosts')]);
  for (const [name, c] of [
    ['hosta', hosta],
    ['hostb', hostb],
  ] as const) {
    assert.equal(c.host, name);
    assert.deepEqual(c.info, { cipher: 'aes128-gcm@openssh.com', hostKeyFingerprint: hostKeyFp.get(name), nativeCrypto: true });
  }
});

test('GetInfo through forwardToLocal: private sockets, several forwards and calls on one SSH connection', async () => {
  const [a1, a2, b1] = await Promise.all([hosta.forwardToLocal(AGENT_SOCK), hosta.forwardToLocal(AGENT_SOCK), hostb.forwardToLocal(AGENT_SOCK)]);
  assert.notEqual(a1, a2);
  assert.ok(a1.startsWith(join(tmp, 'rt') + '/'));
  assert.equal((await stat(a1)).mode & 0o777, 0o600);
  assert.equal((await stat(dirname(a1))).mode & 0o777, 0o700);
  const clients = [a1, a2, b1].map((p) => createAgentClients(`unix:${p}`));
  try {
    const infos = await Promise.all(clients.map((c) => unaryCall(c.info, c.info.getInfo, {}, T)));
    const names = await Promise.all(['hosta', 'hosta', 'hostb'].map(async (h) => (await hostExec(h, ['hostname'])).trim()));
    assert.deepEqual(
      infos.map((i) => i.host?.hostname),
      names,
    );
    assert.deepEqual(infos[0]?.apiVersions, ['v1']);
    // one SSH connection to hosta carries both forwards and both gRPC channels
    const established = await hostExec('hosta', ['ss', '-Htn', 'state', 'established', '( sport = :22 )']);
    assert.equal(established.trim().split('\n').filter(Boolean).length, 1, established);
  } finally {
    for (const c of clients) c.close();
  }
});

const ECHO_CLIENT = `
import hashlib, os, socket, sys, threading
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1])
payload = os.urandom(int(sys.argv[2])); got = []
def reader():
    while True:
        d = s.recv(1 << 16)
        if not d: break
        got.append(d)
t = threading.Thread(target=reader); t.start()
s.sendall(payload); s.shutdown(socket.SHUT_WR); t.join()
back = b"".join(got)
print(len(back), hashlib.sha256(back).hexdigest() == hashlib.sha256(payload).hexdigest())
`;

test('forwardToRemote: a local echo server answers from inside the host; cancel removes the socket', async () => {
  const echoPath = join(tmp, 'echo.sock');
  const echo: Server = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(echoPath, resolve));
  const remotePath = `/run/kvmclone/test-${randomBytes(6).toString('hex')}.sock`;
  try {
    await hosta.forwardToRemote(remotePath, echoPath);
    assert.equal((await hostExec('hosta', ['stat', '-c', '%F %a %U', remotePath])).trim(), 'socket 600 root');
    // 4 MiB both ways at once: backpressure through sshd, the channel, the worker and the local socket
    assert.equal((await hostExec('hosta', ['/usr/bin/python3', '-c', ECHO_CLIENT, remotePath, String(4 << 20)])).trim(), `${4 << 20} True`);
    await rejectsWith(hosta.forwardToRemote(remotePath, echoPath), 'forward', /already forwarded/);
    await hosta.cancelRemoteForward(remotePath);
    assert.equal((await hostExec('hosta', ['sh', '-c', 'test -e "$1" && echo present || echo gone', 'sh', remotePath])).trim(), 'gone');
    await hosta.cancelRemoteForward(remotePath); // idempotent
    // sshd refuses a path whose directory does not exist
    await rejectsWith(hosta.forwardToRemote('/run/no-such-dir/x.sock', echoPath), 'forward', /sshd refused to listen at \/run\/no-such-dir\/x\.sock/);
  } finally {
    echo.close();
  }
});

test('exec: stdout, stderr, exit codes; quoting survives spaces, quotes and metacharacters', async () => {
  const args = ['two  spaces', "it's", 'say "hi"', '$HOME', '*', '; rm -rf /tmp/nothing', 'back\\slash', '', 'line\nbreak', '`id`'];
  const r = await hosta.exec(['printf', '[%s]\\n', ...args]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, args.map((a) => `[${a}]\n`).join(''));
  assert.deepEqual(await hosta.exec(['sh', '-c', 'echo out; echo err >&2; exit 7']), { code: 7, stdout: 'out\n', stderr: 'err\n' });
  assert.equal((await hosta.exec(['false'])).code, 1);
  assert.equal((await hosta.exec(['sh', '-c', 'kill -9 $$'])).code, 128 + 9);
  assert.equal((await hosta.exec(['cat'])).stdout, ''); // stdin is at EOF, nothing hangs
  assert.equal((await hosta.exec(['printenv', 'E2E_HOST'])).stdout, 'hosta\n');
});

test('exec: a timeout or an abort kills the remote command', async () => {
  const started = Date.now();
  await rejectsWith(hosta.exec(['sleep', '987'], { timeoutMs: 500 }), 'other', /timed out after 500 ms and was killed: sleep 987/);
  assert.ok(Date.now() - started < 5_000);
  const ac = new AbortController();
  // a command with a child of its own: the whole process group goes
  const pending = hosta.exec(['sh', '-c', 'sleep 988 & sleep 988; wait'], { signal: ac.signal });
  await sleep(300);
  ac.abort();
  await assert.rejects(pending, { name: 'AbortError' });
  // The kill goes out on a second channel once the abort reaches the worker: give it a few seconds on a busy machine.
  let left = { stdout: 'not asked yet' };
  for (let i = 0; i < 20 && left.stdout !== ''; i += 1) {
    await sleep(250);
    left = await hosta.exec(['sh', '-c', 'pgrep -f "^sleep 98[78]$" || true']);
  }
  assert.equal(left.stdout, '', 'sleep still running on the host');
});

test('an unknown host key is refused with the fingerprint ssh-keygen prints', async () => {
  const empty = join(tmp, 'empty_known_hosts');
  await writeFile(empty, '');
  const strict = new Ssh2Engine({ ...settings, knownHostsFile: empty });
  const err = await rejectsWith(strict.connect('hosta'), 'unknown-host-key', /^hosta \(169\.254\.201\.2:22\): host key ssh-ed25519 SHA256:\S+ is not in /);
  assert.equal(err.fingerprint, hostKeyFp.get('hosta'));
  assert.ok(err.message.includes(`${hostKeyFp.get('hosta')} is not in ${empty}`));
  assert.match(err.message, /refusing to connect\. Check the fingerprint out of band and add it with ssh-keyscan or ssh\.$/);
});

test('a changed host key is refused as changed, naming both fingerprints', async () => {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, 'impostor')]);
  const impostor = (await readFile(join(tmp, 'impostor.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
  const file = join(tmp, 'changed_known_hosts');
  await writeFile(file, `169.254.201.2 ${impostor}\n`);
  const err = await rejectsWith(new Ssh2Engine({ ...settings, knownHostsFile: file }).connect('hosta'), 'changed-host-key', /HOST KEY HAS CHANGED/);
  assert.equal(err.fingerprint, hostKeyFp.get('hosta'));
  assert.ok(err.message.includes(`${file}:1 holds ${await fingerprint(join(tmp, 'impostor.pub'))}`));
});

test('hashed known_hosts (ssh-keygen -H) are accepted', async () => {
  const file = join(tmp, 'hashed_known_hosts');
  await writeFile(file, await readFile(join(CLIENT, 'known_hosts')));
  await run('ssh-keygen', ['-q', '-H', '-f', file]);
  assert.doesNotMatch(await readFile(file, 'utf8'), /169\.254/);
  const c = await new Ssh2Engine({ ...settings, knownHostsFile: file }).connect('hostb');
  try {
    assert.equal((await c.exec(['printenv', 'E2E_HOST'])).stdout, 'hostb\n');
  } finally {
    await c.close();
  }
});

test("ProxyJump through hosta to hosta's own address; an unreachable target names the jump host", async () => {
  const config = await configWith('jump_config', [
    'Host hosta-self hostb-via-a',
    '  ProxyJump hosta',
    '  User root',
    `  IdentityFile ${join(CLIENT, 'id_ed25519')}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${join(CLIENT, 'known_hosts')}`,
    'Host hosta-self',
    '  HostName 169.254.201.2',
    'Host hostb-via-a',
    '  HostName 169.254.202.2',
  ]);
  const jumping = new Ssh2Engine({ ...settings, configFile: config });
  const c = await jumping.connect('hosta-self');
  try {
    // seen from sshd, the client is hosta itself (the jump), not the controller at .1
    assert.match((await c.exec(['sh', '-c', 'echo $SSH_CONNECTION'])).stdout, /^169\.254\.201\.2 \d+ 169\.254\.201\.2 22\n$/);
    const direct = (await hosta.exec(['sh', '-c', 'echo $SSH_CONNECTION'])).stdout;
    assert.match(direct, /^169\.254\.201\.1 /);
    const agent = createAgentClients(`unix:${await c.forwardToLocal(AGENT_SOCK)}`);
    try {
      assert.equal((await unaryCall(agent.info, agent.info.getInfo, {}, T)).host?.hostname, (await hostExec('hosta', ['hostname'])).trim());
    } finally {
      agent.close();
    }
  } finally {
    await c.close();
  }
  await rejectsWith(jumping.connect('hostb-via-a'), 'unreachable', /^hostb-via-a \(169\.254\.202\.2:22\): jump host hosta could not connect to it/);
});

test('authentication: a passphrase-protected key is never prompted for; a wrong key fails clearly', async () => {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret phrase', '-f', join(tmp, 'locked')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, 'stranger')]);
  const config = await configWith('auth_config', [
    'Host locked stranger',
    '  HostName 169.254.201.2',
    '  User root',
    '  IdentitiesOnly yes',
    '  IdentityAgent none',
    `  UserKnownHostsFile ${join(CLIENT, 'known_hosts')}`,
    'Host locked',
    `  IdentityFile ${join(tmp, 'locked')}`,
    'Host stranger',
    `  IdentityFile ${join(tmp, 'stranger')}`,
    `  IdentityFile ${join(tmp, 'missing-key-is-skipped')}`,
  ]);
  const e = new Ssh2Engine({ ...settings, configFile: config });
  await rejectsWith(e.connect('locked'), 'auth', new RegExp(`${join(tmp, 'locked')} is passphrase-protected and kvmctl never prompts: load it into ssh-agent with ssh-add`));
  const wrong = await rejectsWith(e.connect('stranger'), 'auth', /^stranger \(169\.254\.201\.2:22\): authentication as root failed; offered: \S+stranger;/);
  assert.doesNotMatch(wrong.message, /missing-key-is-skipped/);
});

test('a closed port is unreachable; a bad HOST or config line is a config error before any connection', async () => {
  await rejectsWith(
    new Ssh2Engine({ ...settings, identityFile: join(CLIENT, 'id_ed25519') }).connect('root@169.254.201.2:2999'),
    'unreachable',
    /169\.254\.201\.2:2999.*cannot connect: connect ECONNREFUSED/,
  );
  await rejectsWith(engine.connect('-oProxyCommand=sh'), 'config', /starts with '-'/);
  const config = await configWith('bad_config', ['Match exec "true"', '  User nobody']);
  await rejectsWith(new Ssh2Engine({ ...settings, configFile: config }).connect('hosta'), 'config', /bad_config:1: "Match exec true" is not supported by the ssh2 engine/);
});

test('ssh-agent: its keys are used, filtered by IdentitiesOnly against the identity files (an encrypted file is fine when the agent holds it)', async () => {
  const agentSock = join(tmp, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 50; i += 1) {
      if (
        await access(agentSock).then(
          () => true,
          () => false,
        )
      )
        break;
      await sleep(50);
    }
    const env = { ...process.env, SSH_AUTH_SOCK: agentSock };
    await run('ssh-add', ['-q', join(CLIENT, 'id_ed25519')], { env });
    // the client key, passphrase-protected: usable only through the agent, matched by its .pub
    await run('cp', [join(CLIENT, 'id_ed25519'), join(tmp, 'enc')]);
    await run('cp', [join(CLIENT, 'id_ed25519.pub'), join(tmp, 'enc.pub')]);
    await run('ssh-keygen', ['-q', '-p', '-P', '', '-N', 'pass phrase', '-f', join(tmp, 'enc')]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, 'other')]);
    const config = await configWith('agent_config', [
      'Host via-agent-enc via-agent-any via-agent-other',
      '  HostName 169.254.201.2',
      '  User root',
      `  IdentityAgent ${agentSock}`,
      `  UserKnownHostsFile ${join(CLIENT, 'known_hosts')}`,
      'Host via-agent-enc',
      '  IdentitiesOnly yes',
      `  IdentityFile ${join(tmp, 'enc')}`,
      'Host via-agent-other',
      '  IdentitiesOnly yes',
      `  IdentityFile ${join(tmp, 'other')}`,
      'Host via-agent-any',
      `  IdentityFile ${join(tmp, 'no-such-key')}`,
    ]);
    const e = new Ssh2Engine({ ...settings, configFile: config });
    for (const name of ['via-agent-enc', 'via-agent-any']) {
      const c = await e.connect(name);
      try {
        assert.equal((await c.exec(['printenv', 'E2E_HOST'])).stdout, 'hosta\n', name);
      } finally {
        await c.close();
      }
    }
    // IdentitiesOnly: the agent's key is not other's, so it is not offered; other itself is not authorized
    const err = await rejectsWith(e.connect('via-agent-other'), 'auth', /authentication as root failed; offered: \S+\/other\.$/);
    assert.doesNotMatch(err.message, /from ssh-agent/);
  } finally {
    agent.kill('SIGTERM');
  }
});

test('a dropped connection fails what is in flight and every later call, clearly', async () => {
  const c = await engine.connect('hostb');
  try {
    // kill the sshd process serving this connection (the parent of the command's shell)
    const killed = await c.exec(['sh', '-c', 'kill -9 $PPID; sleep 5']).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(killed instanceof SshError && killed.kind === 'unreachable', String(killed));
    await rejectsWith(c.exec(['true']), 'unreachable', /^hostb: SSH connection lost/);
    await rejectsWith(c.forwardToLocal(AGENT_SOCK), 'unreachable', /SSH connection lost/);
  } finally {
    await c.close();
  }
  // an abort while connecting: rejected at once, nothing left behind (see the runtime dir check at the end)
  const ac = new AbortController();
  const connecting = engine.connect('hostb', { signal: ac.signal });
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(connecting, { name: 'AbortError' });
  await assert.rejects(engine.connect('hostb', { signal: AbortSignal.abort() }), { name: 'AbortError' });
});

const ZERO_SERVER = `
import os, socket, sys
path, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(path); s.listen(4)
chunk = memoryview(bytes(1 << 20))
for _ in range(count):
    c, _ = s.accept(); left = size
    while left > 0:
        left -= c.send(chunk[:min(left, len(chunk))])
    c.shutdown(socket.SHUT_WR); c.close()
s.close(); os.unlink(path)
`;

async function drain(path: string): Promise<{ bytes: number; seconds: number }> {
  const started = process.hrtime.bigint();
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    const s = connect(path);
    s.on('data', (b: Buffer) => (bytes += b.length))
      .on('end', resolve)
      .on('error', reject);
  });
  return { bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

test('throughput: 1 GiB through a forwardToLocal socket (printed, not asserted)', async () => {
  const GiB = 1 << 30;
  const remote = `/run/kvmclone/zero-${randomBytes(6).toString('hex')}.sock`;
  const startServer = await hosta.exec(['sh', '-c', 'exec /usr/bin/python3 -c "$1" "$2" "$3" 2 </dev/null >/dev/null 2>&1 &', 'sh', ZERO_SERVER, remote, String(GiB)]);
  assert.equal(startServer.code, 0);
  for (let i = 0; i < 50 && (await hosta.exec(['test', '-S', remote])).code !== 0; i += 1) await sleep(100);
  const ssh2 = await drain(await hosta.forwardToLocal(remote));
  assert.equal(ssh2.bytes, GiB);
  const openssh = await forwardAgentSocket('hosta', remote, rootSshConfigPath()); // the OpenSSH client for comparison, same host and socket
  let ossh: { bytes: number; seconds: number };
  try {
    ossh = await drain(openssh.localSocket);
  } finally {
    await openssh.close();
  }
  assert.equal(ossh.bytes, GiB);
  const mbs = (r: { bytes: number; seconds: number }): string => (r.bytes / r.seconds / 1e6).toFixed(0);
  console.log(
    `# throughput 1 GiB, forwarded unix socket: ssh2 engine ${mbs(ssh2)} MB/s (${ssh2.seconds.toFixed(2)} s), OpenSSH -L ${mbs(ossh)} MB/s (${ossh.seconds.toFixed(2)} s)`,
  );
});

test('close() removes the local sockets and the remote forwards, is idempotent, and later calls fail clearly', async () => {
  const c = await engine.connect('hostb');
  const local = await c.forwardToLocal(AGENT_SOCK);
  const dir = dirname(local);
  const remotePath = `/run/kvmclone/test-${randomBytes(6).toString('hex')}.sock`;
  await c.forwardToRemote(remotePath, local);
  assert.equal((await hostExec('hostb', ['stat', '-c', '%F', remotePath])).trim(), 'socket');
  await c.close();
  await c.close();
  await assert.rejects(access(dir), { code: 'ENOENT' });
  assert.equal((await hostExec('hostb', ['sh', '-c', 'test -e "$1" && echo present || echo gone', 'sh', remotePath])).trim(), 'gone');
  await rejectsWith(c.exec(['true']), 'other', /connection is closed/);
  // failed connects and closed connections left nothing: only hosta's and hostb's open connections remain
  const rt = await readdir(join(tmp, 'rt'));
  assert.equal(rt.length, 2, rt.join(','));
});
