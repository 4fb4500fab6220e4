/**
 * The ssh2 engine against the testbed: real sshd per host, reached through
 * the testbed's ssh_config (Include, Host alias, IdentityFile,
 * UserKnownHostsFile). The agent inside each host is called over
 * forwardToLocal; forwardToRemote is checked from inside the host; remote
 * commands. Also prints the throughput of 1 GiB through a forwarded socket.
 * Host keys, ProxyJump, authentication, failures and close():
 * ssh2-engine-failures.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { resolveHost } from '../../controller/transport/host-spec.js';
import { AGENT_SOCK, CLIENT, drain, fresh, rejectsWithKind, ssh2Fixture } from '../support/ssh-engine-fixture.js';
import { forwardAgentSocket, hostExec, rootSshConfigPath } from '../support/testbed.js';

const T = { deadlineMs: 30_000 };
const fx = ssh2Fixture();

test('connects to both hosts through the testbed ssh_config, with aes128-gcm on the native binding', async () => {
  const sshcrypto = join(dirname(createRequire(import.meta.url).resolve('ssh2')), 'protocol/crypto/build/Release/sshcrypto.node');
  await access(sshcrypto);
  const resolved = await resolveHost('hosta', fx.settings);
  assert.equal(resolved.hostName, '169.254.201.2'); // from $E2E/client/conf.d/hosta, reached by Include
  assert.deepEqual(resolved.identityFiles, [join(CLIENT, 'id_ed25519')]);
  assert.deepEqual(resolved.knownHostsFiles, [join(CLIENT, 'known_hosts')]);
  for (const [name, c] of [
    ['hosta', fx.hosta],
    ['hostb', fx.hostb],
  ] as const) {
    assert.equal(c.host, name);
    assert.deepEqual(c.info, { cipher: 'aes128-gcm@openssh.com', hostKeyFingerprint: fx.hostKeyFp.get(name), nativeCrypto: true });
  }
});

test('GetInfo through forwardToLocal: private sockets, several forwards and calls on one SSH connection', async () => {
  const [a1, a2, b1] = await Promise.all([fx.hosta.forwardToLocal(AGENT_SOCK), fx.hosta.forwardToLocal(AGENT_SOCK), fx.hostb.forwardToLocal(AGENT_SOCK)]);
  assert.notEqual(a1, a2);
  assert.ok(a1.startsWith(join(fx.tmp, 'rt') + '/'));
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
  const { hosta } = fx;
  const echoPath = join(fx.tmp, 'echo.sock');
  const echo: Server = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(echoPath, resolve));
  const remotePath = fresh();
  try {
    await hosta.forwardToRemote(remotePath, echoPath);
    assert.equal((await hostExec('hosta', ['stat', '-c', '%F %a %U', remotePath])).trim(), 'socket 600 root');
    // 4 MiB both ways at once: backpressure through sshd, the channel, the worker and the local socket
    assert.equal((await hostExec('hosta', ['/usr/bin/python3', '-c', ECHO_CLIENT, remotePath, String(4 << 20)])).trim(), `${4 << 20} True`);
    await rejectsWithKind(hosta.forwardToRemote(remotePath, echoPath), 'forward', /already forwarded/);
    await hosta.cancelRemoteForward(remotePath);
    assert.equal((await hostExec('hosta', ['sh', '-c', 'test -e "$1" && echo present || echo gone', 'sh', remotePath])).trim(), 'gone');
    await hosta.cancelRemoteForward(remotePath); // idempotent
    // sshd refuses a path whose directory does not exist
    await rejectsWithKind(hosta.forwardToRemote('/run/no-such-dir/x.sock', echoPath), 'forward', /sshd refused to listen at \/run\/no-such-dir\/x\.sock/);
  } finally {
    echo.close();
  }
});

test('exec: stdout, stderr, exit codes; quoting survives spaces, quotes and metacharacters', async () => {
  const { hosta } = fx;
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
  const { hosta } = fx;
  const started = Date.now();
  await rejectsWithKind(hosta.exec(['sleep', '987'], { timeoutMs: 500 }), 'other', /timed out after 500 ms and was killed: sleep 987/);
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

test('throughput: 1 GiB through a forwardToLocal socket (printed, not asserted)', async () => {
  const { hosta } = fx;
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
