/**
 * The OpenSSH engine against a testbed host: a real sshd in its own network
 * namespace, the real agent behind it, the testbed's ssh_config. Connecting,
 * forwards both ways, remote commands, throughput, and what close() leaves.
 * Host keys, authentication, failures and a controller that never closes:
 * openssh-engine-failures.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { ADDR, AGENT_SOCK, HOST, drain, fresh, lineServer, onHost, openSshFixture, pyPing, rejectsWithKind, sshChildren } from '../support/ssh-engine-fixture.js';
import { E2E_DIR, TESTBED_DIR, hostExec } from '../support/testbed.js';

const T = { deadlineMs: 15_000 };
const fx = openSshFixture();

test('connects with aes128-gcm and reaches the agent through forwardToLocal', async () => {
  assert.equal(fx.conn.facts().cipher, 'aes128-gcm@openssh.com');
  assert.equal(fx.conn.facts().hostKey?.fingerprint, fx.hostFingerprint);
  assert.equal(fx.conn.facts().address, `${ADDR}:22`);
  const local = await fx.conn.forwardToLocal(AGENT_SOCK);
  assert.ok(local.startsWith(`${fx.runtimeDir}/`));
  const clients = createAgentClients(`unix:${local}`);
  try {
    const info = await unaryCall(clients.info, clients.info.getInfo, {}, T);
    assert.deepEqual(info.apiVersions, ['v1']);
    assert.equal(info.host?.hostname, await onHost('hostname'));
  } finally {
    clients.close();
  }
});

test('two forwards share one master; no other ssh process stays', async () => {
  const [l1, l2] = await Promise.all([fx.conn.forwardToLocal(AGENT_SOCK), fx.conn.forwardToLocal(AGENT_SOCK)]);
  assert.notEqual(l1, l2);
  const c1 = createAgentClients(`unix:${l1}`);
  const c2 = createAgentClients(`unix:${l2}`);
  try {
    const [i1, i2] = await Promise.all([unaryCall(c1.info, c1.info.getInfo, {}, T), unaryCall(c2.info, c2.info.getInfo, {}, T)]);
    assert.equal(i1.host?.hostname, i2.host?.hostname);
    assert.deepEqual(sshChildren(), [fx.conn.masterPid]);
  } finally {
    c1.close();
    c2.close();
  }
});

test('forwardToRemote: bound when it resolves, refuses a live path (no takeover), cancel removes the file', async () => {
  const { conn, dir } = fx;
  const remote = fresh();
  const ours = await lineServer(join(dir, 'echo.sock'), 'echo:');
  const theirs = await lineServer(join(dir, 'other.sock'), 'other:');
  const conn2 = await fx.engine().connect(HOST);
  try {
    await conn.forwardToRemote(remote, join(dir, 'echo.sock'));
    assert.equal(await onHost(`test -S ${remote} && stat -c %a ${remote}`), '600');
    assert.equal(await hostExec(HOST, ['python3', '-c', pyPing(remote)]), 'echo:ping\n');

    // the same path again: on this connection (ssh would answer "ok" without asking sshd) and on another
    await rejectsWithKind(conn.forwardToRemote(remote, join(dir, 'echo.sock')), 'forward');
    const err = await rejectsWithKind(conn2.forwardToRemote(remote, join(dir, 'other.sock')), 'forward');
    assert.ok(err.message.includes(remote), err.message);
    assert.equal(await hostExec(HOST, ['python3', '-c', pyPing(remote)]), 'echo:ping\n');

    await conn.cancelRemoteForward(remote);
    assert.equal(await onHost(`test -e ${remote} && echo present || echo absent`), 'absent');
    // the path is free again, and the second connection can bind it
    await conn2.forwardToRemote(remote, join(dir, 'other.sock'));
    assert.equal(await hostExec(HOST, ['python3', '-c', pyPing(remote)]), 'other:ping\n');
  } finally {
    await conn2.close();
    ours.close();
    theirs.close();
  }
  // close() cancelled conn2's forward and removed its socket on the host
  assert.equal(await onHost(`test -e ${remote} && echo present || echo absent`), 'absent');
});

test('a forward to a missing remote directory fails with kind forward and leaves the master usable', async () => {
  const server = await lineServer(join(fx.dir, 'e2.sock'), 'x');
  try {
    await rejectsWithKind(fx.conn.forwardToRemote('/nonexistent-dir/x.sock', join(fx.dir, 'e2.sock')), 'forward');
    await rejectsWithKind(fx.conn.forwardToRemote(fresh(), join(fx.dir, 'no-such-local.sock')), 'forward');
    assert.equal((await fx.conn.exec(['echo', 'still up'])).stdout, 'still up\n');
  } finally {
    server.close();
  }
});

test('exec passes arguments verbatim: no remote expansion of spaces, quotes, $(...), globs', async () => {
  const args = ['a b', "it's", '"dq"', '$(id -u)', '`id`', '${HOME}', '*', '; echo injected', 'ü ✓', '-n', ''];
  const r = await fx.conn.exec(['printf', '[%s]\\n', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, args.map((a) => `[${a}]\n`).join(''));
  const failing = await fx.conn.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.deepEqual(failing, { code: 3, stdout: 'out\n', stderr: 'err\n' });
});

test('exec: a timeout or an abort kills the ssh and rejects', async () => {
  const t0 = Date.now();
  await rejectsWithKind(fx.conn.exec(['sleep', '30'], { timeoutMs: 300 }), 'other');
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('stop')), 300);
  await assert.rejects(fx.conn.exec(['sleep', '30'], { signal: ac.signal }), /stop/);
  assert.ok(Date.now() - t0 < 10_000);
  assert.deepEqual(sshChildren(), [fx.conn.masterPid]);
});

test('1 GiB through a forwardToLocal socket (measured, not asserted)', { timeout: 300_000 }, async () => {
  const remote = fresh();
  const py = [
    'import os, socket, sys',
    `s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(remote)}); s.listen(1)`,
    "print('ready', flush=True)",
    'c, _ = s.accept(); buf = os.urandom(1 << 20)',
    'for _ in range(1024): c.sendall(buf)',
    `c.close(); os.unlink(${JSON.stringify(remote)})`,
  ].join('\n');
  const server = spawn(join(TESTBED_DIR, 'host-exec.sh'), [HOST, 'python3', '-c', py], { env: { ...process.env, E2E: E2E_DIR }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      server.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    const { bytes, seconds } = await drain(await fx.conn.forwardToLocal(remote));
    assert.equal(bytes, 1 << 30);
    console.log(`# OpenSSH forwardToLocal, ${fx.conn.facts().cipher}: 1 GiB in ${seconds.toFixed(2)} s (${((1 << 30) / seconds / 1e6).toFixed(0)} MB/s)`);
  } finally {
    server.kill();
  }
});

test('close() leaves no ssh process and no local socket', async () => {
  const c = await fx.engine().connect(HOST);
  await c.forwardToLocal(AGENT_SOCK);
  const server = await lineServer(join(fx.dir, 'last.sock'), 'x');
  const remote = fresh();
  await c.forwardToRemote(remote, join(fx.dir, 'last.sock'));
  await c.close();
  server.close();
  await fx.conn.close();
  assert.deepEqual(sshChildren(), []);
  assert.deepEqual(await readdir(fx.runtimeDir), []);
  assert.equal(await onHost(`test -e ${remote} && echo present || echo absent`), 'absent');
  await rejectsWithKind(fx.conn.exec(['true']), 'other');
});
