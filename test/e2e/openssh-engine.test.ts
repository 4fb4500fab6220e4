/**
 * The OpenSSH engine against a testbed host: a real sshd in its own network
 * namespace, the real agent behind it, the testbed's ssh_config. Host keys,
 * forwards both ways, remote commands, failures and cleanup.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { OpenSshEngine, type OpenSshConnection } from '../../controller/transport/openssh-engine.js';
import { SshError, type SshSettings } from '../../controller/transport/ssh-engine.js';
import { E2E_DIR, TESTBED_DIR, hostDown, hostExec, hostUp, rootSshConfigPath, sshConfigPath } from '../support/testbed.js';

const run = promisify(execFile);
const HOST = 'hosta';
const ADDR = '169.254.201.2';
const AGENT_SOCK = '/run/kvmclone/agent.sock';
const T = { deadlineMs: 15_000 };

let dir: string;
let runtimeDir: string;
let settings: SshSettings;
let conn: OpenSshConnection;
let hostFingerprint: string;

const fresh = (): string => `/run/kvmclone/test-${randomBytes(6).toString('hex')}.sock`;
const engine = (over: Partial<SshSettings> = {}): OpenSshEngine => new OpenSshEngine({ ...settings, ...over });

/** PIDs of this process's live ssh children (masters and mux clients). */
function sshChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [comm, rest] = [stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), stat.slice(stat.lastIndexOf(')') + 2).split(' ')];
      if (comm === 'ssh' && rest[0] !== 'Z' && Number(rest[1]) === process.pid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function onHost(script: string): Promise<string> {
  return (await hostExec(HOST, ['sh', '-c', script])).trim();
}

/** A local unix server answering each line with `${prefix}${line}`. */
async function lineServer(path: string, prefix: string): Promise<net.Server> {
  const server = net.createServer((s) => s.on('data', (d) => s.write(`${prefix}${d.toString()}`)));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

/** Connects to `path` inside the host with python3, sends `ping`, prints the answer. */
const pyPing = (path: string): string =>
  `import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(${JSON.stringify(path)}); s.sendall(b'ping\\n'); print(s.recv(100).decode().strip())`;

async function rejectsWithKind(p: Promise<unknown>, kind: string): Promise<SshError> {
  const err = await p.then(
    () => assert.fail(`expected SshError(${kind})`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SshError, String(err));
  assert.equal(err.kind, kind, err.message);
  return err;
}

before(async () => {
  await hostDown(HOST);
  await hostUp(HOST, 1);
  dir = await mkdtemp(join(tmpdir(), 'openssh-e2e-'));
  runtimeDir = await mkdtemp(join(tmpdir(), 'kvmc-rt-'));
  // root: these tests cover the engine's generic features, exec included (the kvmclone account runs no commands: e2e/account.test.ts)
  settings = { configFile: rootSshConfigPath(), connectTimeoutS: 5, keepaliveS: 15, ciphers: ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'], runtimeDir };
  const { stdout } = await run('ssh-keygen', ['-lf', join(E2E_DIR, HOST, 'ssh', 'host_ed25519_key.pub')]);
  hostFingerprint = stdout.split(' ')[1];
  conn = await engine().connect(HOST);
});

after(async () => {
  await conn?.close();
  await hostDown(HOST);
  await rm(dir, { recursive: true, force: true });
  await rm(runtimeDir, { recursive: true, force: true });
});

test('connects with aes128-gcm and reaches the agent through forwardToLocal', async () => {
  assert.equal(conn.facts().cipher, 'aes128-gcm@openssh.com');
  assert.equal(conn.facts().hostKey?.fingerprint, hostFingerprint);
  assert.equal(conn.facts().address, `${ADDR}:22`);
  const local = await conn.forwardToLocal(AGENT_SOCK);
  assert.ok(local.startsWith(`${runtimeDir}/`));
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
  const [l1, l2] = await Promise.all([conn.forwardToLocal(AGENT_SOCK), conn.forwardToLocal(AGENT_SOCK)]);
  assert.notEqual(l1, l2);
  const c1 = createAgentClients(`unix:${l1}`);
  const c2 = createAgentClients(`unix:${l2}`);
  try {
    const [i1, i2] = await Promise.all([unaryCall(c1.info, c1.info.getInfo, {}, T), unaryCall(c2.info, c2.info.getInfo, {}, T)]);
    assert.equal(i1.host?.hostname, i2.host?.hostname);
    assert.deepEqual(sshChildren(), [conn.masterPid]);
  } finally {
    c1.close();
    c2.close();
  }
});

test('forwardToRemote: bound when it resolves, refuses a live path (no takeover), cancel removes the file', async () => {
  const remote = fresh();
  const ours = await lineServer(join(dir, 'echo.sock'), 'echo:');
  const theirs = await lineServer(join(dir, 'other.sock'), 'other:');
  const conn2 = await engine().connect(HOST);
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
  const server = await lineServer(join(dir, 'e2.sock'), 'x');
  try {
    await rejectsWithKind(conn.forwardToRemote('/nonexistent-dir/x.sock', join(dir, 'e2.sock')), 'forward');
    await rejectsWithKind(conn.forwardToRemote(fresh(), join(dir, 'no-such-local.sock')), 'forward');
    assert.equal((await conn.exec(['echo', 'still up'])).stdout, 'still up\n');
  } finally {
    server.close();
  }
});

test('exec passes arguments verbatim: no remote expansion of spaces, quotes, $(...), globs', async () => {
  const args = ['a b', "it's", '"dq"', '$(id -u)', '`id`', '${HOME}', '*', '; echo injected', 'ü ✓', '-n', ''];
  const r = await conn.exec(['printf', '[%s]\\n', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, args.map((a) => `[${a}]\n`).join(''));
  const failing = await conn.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.deepEqual(failing, { code: 3, stdout: 'out\n', stderr: 'err\n' });
});

test('exec: a timeout or an abort kills the ssh and rejects', async () => {
  const t0 = Date.now();
  await rejectsWithKind(conn.exec(['sleep', '30'], { timeoutMs: 300 }), 'other');
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('stop')), 300);
  await assert.rejects(conn.exec(['sleep', '30'], { signal: ac.signal }), /stop/);
  assert.ok(Date.now() - t0 < 10_000);
  assert.deepEqual(sshChildren(), [conn.masterPid]);
});

test('an unknown host key is refused, naming the fingerprint ssh-keygen shows', async () => {
  const empty = join(dir, 'empty_known_hosts');
  await writeFile(empty, '');
  const err = await rejectsWithKind(engine({ knownHostsFile: empty }).connect(HOST), 'unknown-host-key');
  assert.equal(err.fingerprint, hostFingerprint);
  assert.ok(err.message.includes(hostFingerprint) && err.message.includes(`${ADDR}:22`) && err.message.startsWith(`${HOST}:`), err.message);
  assert.ok(!/debug1/.test(err.message), err.message);
});

test('a changed host key is refused as changed', async () => {
  const keyFile = join(dir, 'other_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  const pub = (await readFile(`${keyFile}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
  const kh = join(dir, 'changed_known_hosts');
  await writeFile(kh, `${ADDR} ${pub}\n`);
  const err = await rejectsWithKind(engine({ knownHostsFile: kh }).connect(HOST), 'changed-host-key');
  assert.equal(err.fingerprint, hostFingerprint);
});

test('HOST as user@address:port works without a config; a closed port is unreachable', async () => {
  const direct = { configFile: join(dir, 'no-such-config'), knownHostsFile: join(E2E_DIR, 'client', 'known_hosts'), identityFile: join(E2E_DIR, 'client', 'id_ed25519') };
  const c = await engine(direct).connect(`root@${ADDR}:22`);
  try {
    assert.equal((await c.exec(['hostname'])).stdout.trim(), await onHost('hostname'));
  } finally {
    await c.close();
  }
  const err = await rejectsWithKind(engine(direct).connect(`root@${ADDR}:2222`), 'unreachable');
  assert.match(err.message, new RegExp(`${ADDR.replace(/\./g, '\\.')}:2222: .*Connection refused`));
});

test('connect: an abort or the connect timeout ends a handshake that never comes', async () => {
  // accepts TCP connections and never sends an SSH banner
  const held: net.Socket[] = [];
  const silent = net.createServer((s) => held.push(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as net.AddressInfo).port;
  const direct = { configFile: join(dir, 'no-such-config'), knownHostsFile: join(dir, 'none'), connectTimeoutS: 1 };
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('user gave up')), 300);
    const t0 = Date.now();
    await assert.rejects(engine({ ...direct, connectTimeoutS: 30 }).connect(`root@127.0.0.1:${port}`, { signal: ac.signal }), /user gave up/);
    assert.ok(Date.now() - t0 < 5000);
    await rejectsWithKind(engine(direct).connect(`root@127.0.0.1:${port}`), 'unreachable');
    assert.deepEqual(sshChildren(), [conn.masterPid]);
    assert.deepEqual((await readdir(runtimeDir)).filter((f) => f.startsWith('cm-')).length, 1);
  } finally {
    for (const s of held) s.destroy();
    silent.close();
  }
});

test('a config saying StrictHostKeyChecking no still refuses an unknown key and adds nothing', async () => {
  const kh = join(dir, 'lax_known_hosts');
  await writeFile(kh, '');
  const cfg = join(dir, 'lax_config');
  const id = join(E2E_DIR, 'client', 'id_ed25519');
  await writeFile(cfg, `Host ${HOST}\n  HostName ${ADDR}\n  User root\n  IdentityFile ${id}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile ${kh}\n`);
  await rejectsWithKind(engine({ configFile: cfg }).connect(HOST), 'unknown-host-key');
  assert.equal(await readFile(kh, 'utf8'), '');
});

test('an identity file whose path has a space and a % authenticates; without it auth fails', async () => {
  const cfg = join(dir, 'noid_config');
  await writeFile(cfg, `Host ${HOST}\n  HostName ${ADDR}\n  User root\n  IdentitiesOnly yes\n  UserKnownHostsFile ${join(E2E_DIR, 'client', 'known_hosts')}\n`);
  const keyDir = join(dir, 'key dir%h');
  await run('mkdir', ['-p', keyDir]);
  await writeFile(join(keyDir, 'id'), await readFile(join(E2E_DIR, 'client', 'id_ed25519')), { mode: 0o600 });
  await rejectsWithKind(engine({ configFile: cfg }).connect(HOST), 'auth');
  const c = await engine({ configFile: cfg, identityFile: join(keyDir, 'id') }).connect(HOST);
  try {
    assert.equal((await c.exec(['echo', 'ok'])).stdout, 'ok\n');
  } finally {
    await c.close();
  }
});

test('a dead master turns calls into unreachable errors; close() still cleans up', async () => {
  const c = await engine().connect(HOST);
  const local = await c.forwardToLocal(AGENT_SOCK);
  process.kill(c.masterPid as number, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  const err = await rejectsWithKind(c.exec(['true']), 'unreachable');
  assert.match(err.message, /^hosta: SSH connection lost: ssh was killed by SIGKILL$/);
  await rejectsWithKind(c.forwardToLocal(AGENT_SOCK), 'unreachable');
  await c.close();
  await c.close();
  assert.ok(!(await readdir(runtimeDir)).includes(local.split('/').pop() as string));
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
    const local = await conn.forwardToLocal(remote);
    const t0 = process.hrtime.bigint();
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(local);
      s.on('data', (d: Buffer) => (bytes += d.length));
      s.once('end', resolve);
      s.once('error', reject);
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    assert.equal(bytes, 1 << 30);
    console.log(`# OpenSSH forwardToLocal, ${conn.facts().cipher}: 1 GiB in ${seconds.toFixed(2)} s (${((1 << 30) / seconds / 1e6).toFixed(0)} MB/s)`);
  } finally {
    server.kill();
  }
});

test('a controller that exits without close() (or is SIGKILLed) leaves no master behind; as the kvmclone account, which runs no remote command', async () => {
  const script = join(dir, 'no-close.mjs');
  const engineUrl = new URL('../../controller/transport/openssh-engine.js', import.meta.url).href;
  await writeFile(
    script,
    [
      `import { OpenSshEngine } from ${JSON.stringify(engineUrl)};`,
      'const [mode, configFile, runtimeDir] = process.argv.slice(2);',
      `const c = await new OpenSshEngine({ configFile, runtimeDir, connectTimeoutS: 5, keepaliveS: 15, ciphers: [] }).connect(${JSON.stringify(HOST)});`,
      `await c.forwardToLocal(${JSON.stringify(AGENT_SOCK)});`,
      'console.log(c.masterPid);',
      "if (mode === 'exit') process.exit(3);",
      "if (mode === 'throw') throw new Error('boom');",
      "if (mode === 'sigkill') process.kill(process.pid, 'SIGKILL');",
      '// drain: nothing else keeps the event loop alive',
    ].join('\n'),
  );
  for (const mode of ['drain', 'exit', 'throw', 'sigkill']) {
    const rt = await mkdtemp(join(tmpdir(), 'kvmc-rt-'));
    const result = await run(process.execPath, [script, mode, sshConfigPath(), rt], { timeout: 30_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number | null; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );
    assert.equal(result.code, { drain: 0, exit: 3, throw: 1, sigkill: null }[mode], mode);
    const pid = Number(result.stdout.trim());
    assert.ok(pid > 0, `${mode}: ${result.stdout}`);
    let alive = true;
    for (let i = 0; i < 40 && alive; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      alive = stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    }
    assert.equal(alive, false, `${mode}: master ${pid} outlived its controller`);
    // after SIGKILL no exit hook runs: the local forward socket stays in the (private) runtime dir
    if (mode !== 'sigkill') assert.deepEqual(await readdir(rt), [], mode);
    await rm(rt, { recursive: true, force: true });
  }
});

test('close() leaves no ssh process and no local socket', async () => {
  const c = await engine().connect(HOST);
  await c.forwardToLocal(AGENT_SOCK);
  const server = await lineServer(join(dir, 'last.sock'), 'x');
  const remote = fresh();
  await c.forwardToRemote(remote, join(dir, 'last.sock'));
  await c.close();
  server.close();
  await conn.close();
  assert.deepEqual(sshChildren(), []);
  assert.deepEqual(await readdir(runtimeDir), []);
  assert.equal(await onHost(`test -e ${remote} && echo present || echo absent`), 'absent');
  await rejectsWithKind(conn.exec(['true']), 'other');
});
