/**
 * The OpenSSH engine against a testbed host, when things go wrong: unknown
 * and changed host keys (whatever the config says), HOST without a config,
 * closed ports and silent servers, identity files and failed authentication,
 * a dead master, and a controller that exits without close(). Connecting and
 * forwards: openssh-engine.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADDR, AGENT_SOCK, CLIENT, HOST, onHost, openSshFixture, rejectsWithKind, run, sshChildren } from '../support/ssh-engine-fixture.js';
import { sshConfigPath } from '../support/testbed.js';

const fx = openSshFixture();

test('an unknown host key is refused, naming the fingerprint ssh-keygen shows', async () => {
  const empty = join(fx.dir, 'empty_known_hosts');
  await writeFile(empty, '');
  const err = await rejectsWithKind(fx.engine({ knownHostsFile: empty }).connect(HOST), 'unknown-host-key');
  assert.equal(err.fingerprint, fx.hostFingerprint);
  assert.ok(err.message.includes(fx.hostFingerprint) && err.message.includes(`${ADDR}:22`) && err.message.startsWith(`${HOST}:`), err.message);
  assert.ok(!/debug1/.test(err.message), err.message);
});

test('a changed host key is refused as changed', async () => {
  const keyFile = join(fx.dir, 'other_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  const pub = (await readFile(`${keyFile}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
  const kh = join(fx.dir, 'changed_known_hosts');
  await writeFile(kh, `${ADDR} ${pub}\n`);
  const err = await rejectsWithKind(fx.engine({ knownHostsFile: kh }).connect(HOST), 'changed-host-key');
  assert.equal(err.fingerprint, fx.hostFingerprint);
});

test('HOST as user@address:port works without a config; a closed port is unreachable', async () => {
  const direct = { configFile: join(fx.dir, 'no-such-config'), knownHostsFile: join(CLIENT, 'known_hosts'), identityFile: join(CLIENT, 'id_ed25519') };
  const c = await fx.engine(direct).connect(`root@${ADDR}:22`);
  try {
    assert.equal((await c.exec(['hostname'])).stdout.trim(), await onHost('hostname'));
  } finally {
    await c.close();
  }
  const err = await rejectsWithKind(fx.engine(direct).connect(`root@${ADDR}:2222`), 'unreachable');
  assert.match(err.message, new RegExp(`${ADDR.replace(/\./g, '\\.')}:2222: .*Connection refused`));
});

test('connect: an abort or the connect timeout ends a handshake that never comes', async () => {
  // accepts TCP connections and never sends an SSH banner
  const held: net.Socket[] = [];
  const silent = net.createServer((s) => held.push(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as net.AddressInfo).port;
  const direct = { configFile: join(fx.dir, 'no-such-config'), knownHostsFile: join(fx.dir, 'none'), connectTimeoutS: 1 };
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('user gave up')), 300);
    const t0 = Date.now();
    await assert.rejects(fx.engine({ ...direct, connectTimeoutS: 30 }).connect(`root@127.0.0.1:${port}`, { signal: ac.signal }), /user gave up/);
    assert.ok(Date.now() - t0 < 5000);
    await rejectsWithKind(fx.engine(direct).connect(`root@127.0.0.1:${port}`), 'unreachable');
    assert.deepEqual(sshChildren(), [fx.conn.masterPid]);
    assert.deepEqual((await readdir(fx.runtimeDir)).filter((f) => f.startsWith('cm-')).length, 1);
  } finally {
    for (const s of held) s.destroy();
    silent.close();
  }
});

test('a config saying StrictHostKeyChecking no still refuses an unknown key and adds nothing', async () => {
  const kh = join(fx.dir, 'lax_known_hosts');
  await writeFile(kh, '');
  const cfg = join(fx.dir, 'lax_config');
  const id = join(CLIENT, 'id_ed25519');
  await writeFile(cfg, `Host ${HOST}\n  HostName ${ADDR}\n  User root\n  IdentityFile ${id}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile ${kh}\n`);
  await rejectsWithKind(fx.engine({ configFile: cfg }).connect(HOST), 'unknown-host-key');
  assert.equal(await readFile(kh, 'utf8'), '');
});

test('an identity file whose path has a space and a % authenticates; without it auth fails', async () => {
  const cfg = join(fx.dir, 'noid_config');
  await writeFile(cfg, `Host ${HOST}\n  HostName ${ADDR}\n  User root\n  IdentitiesOnly yes\n  UserKnownHostsFile ${join(CLIENT, 'known_hosts')}\n`);
  const keyDir = join(fx.dir, 'key dir%h');
  await run('mkdir', ['-p', keyDir]);
  await writeFile(join(keyDir, 'id'), await readFile(join(CLIENT, 'id_ed25519')), { mode: 0o600 });
  await rejectsWithKind(fx.engine({ configFile: cfg }).connect(HOST), 'auth');
  const c = await fx.engine({ configFile: cfg, identityFile: join(keyDir, 'id') }).connect(HOST);
  try {
    assert.equal((await c.exec(['echo', 'ok'])).stdout, 'ok\n');
  } finally {
    await c.close();
  }
});

test('a dead master turns calls into unreachable errors; close() still cleans up', async () => {
  const c = await fx.engine().connect(HOST);
  const local = await c.forwardToLocal(AGENT_SOCK);
  process.kill(c.masterPid as number, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  const err = await rejectsWithKind(c.exec(['true']), 'unreachable');
  assert.match(err.message, /^hosta: SSH connection lost: ssh was killed by SIGKILL$/);
  await rejectsWithKind(c.forwardToLocal(AGENT_SOCK), 'unreachable');
  await c.close();
  await c.close();
  assert.ok(!(await readdir(fx.runtimeDir)).includes(local.split('/').pop() as string));
});

/** A script that connects to HOST, forwards the agent, prints the master's pid and then ends as its first argument says. */
async function writeNoCloseScript(file: string): Promise<void> {
  const engineUrl = new URL('../../controller/transport/openssh-engine.js', import.meta.url).href;
  await writeFile(
    file,
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
}

/** Whether `pid` still runs (not a zombie) after up to 2 s of waiting for it to end. */
async function outlives(pid: number): Promise<boolean> {
  let alive = true;
  for (let i = 0; i < 40 && alive; i += 1) {
    await new Promise((r) => setTimeout(r, 50));
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    alive = stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  }
  return alive;
}

test('a controller that exits without close() (or is SIGKILLed) leaves no master behind; as the kvmclone account, which runs no remote command', async () => {
  const script = join(fx.dir, 'no-close.mjs');
  await writeNoCloseScript(script);
  for (const mode of ['drain', 'exit', 'throw', 'sigkill']) {
    const rt = await mkdtemp(join(tmpdir(), 'kvmc-rt-'));
    const result = await run(process.execPath, [script, mode, sshConfigPath(), rt], { timeout: 30_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number | null; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );
    assert.equal(result.code, { drain: 0, exit: 3, throw: 1, sigkill: null }[mode], mode);
    const pid = Number(result.stdout.trim());
    assert.ok(pid > 0, `${mode}: ${result.stdout}`);
    assert.equal(await outlives(pid), false, `${mode}: master ${pid} outlived its controller`);
    // after SIGKILL no exit hook runs: the local forward socket stays in the (private) runtime dir
    if (mode !== 'sigkill') assert.deepEqual(await readdir(rt), [], mode);
    await rm(rt, { recursive: true, force: true });
  }
});
