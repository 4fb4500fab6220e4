/**
 * ssh.persist against a testbed host: a real sshd, the real agent. A master
 * outlives the run that started it, the next run with the same settings
 * reuses it (and only such a run), its forwards do not outlive their run, a
 * dead master is replaced, so is one whose log grew past its bound, and it ends itself when no client came for
 * `persist` seconds. Last, kvmctl itself: two runs, one master.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { OpenSshEngine } from '../../controller/transport/openssh-engine.js';
import { persistDir } from '../../controller/transport/persist-files.js';
import { SshError, type SshSettings } from '../../controller/transport/ssh-engine.js';
import { kvmctl } from '../support/kvmctl.js';
import { hostDown, hostUp, rootSshConfigPath } from '../support/testbed.js';

const run = promisify(execFile);
const HOST = 'hosta';
const AGENT_SOCK = '/run/kvmclone/agent.sock';

let dir: string;
let settings: SshSettings;
const savedRuntime = process.env.XDG_RUNTIME_DIR;

const engine = (over: Partial<SshSettings> = {}): OpenSshEngine => new OpenSshEngine({ ...settings, ...over });

/** Whether a process with this pid runs (and is not a zombie). */
function running(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The control sockets in the persist directory. */
const controlSockets = (): string[] => readdirSync(persistDir()).filter((f) => /^cm-[0-9a-f]+$/.test(f));

async function getInfo(socket: string): Promise<string | undefined> {
  const clients = createAgentClients(`unix:${socket}`);
  try {
    return (await unaryCall(clients.info, clients.info.getInfo, {}, { deadlineMs: 15_000 })).host?.hostname;
  } finally {
    clients.close();
  }
}

before(async () => {
  await hostDown(HOST);
  await hostUp(HOST, 1);
  dir = await mkdtemp(join(tmpdir(), 'persist-e2e-'));
  // every master of this file lives in a directory of its own, ended in after()
  process.env.XDG_RUNTIME_DIR = join(dir, 'xdg');
  await mkdir(process.env.XDG_RUNTIME_DIR, { mode: 0o700 });
  const runtimeDir = await mkdtemp(join(dir, 'rt-'));
  settings = { configFile: rootSshConfigPath(), connectTimeoutS: 5, keepaliveS: 15, ciphers: ['aes128-gcm@openssh.com'], runtimeDir, persistS: 60 };
});

after(async () => {
  for (const socket of existsSync(persistDir()) ? controlSockets() : []) {
    await run('ssh', ['-F', 'none', '-o', `ControlPath=${join(persistDir(), socket)}`, '-O', 'exit', HOST]).catch(() => undefined);
  }
  process.env.XDG_RUNTIME_DIR = savedRuntime;
  await hostDown(HOST);
  await rm(dir, { recursive: true, force: true });
});

test('a persisted master outlives its connection and the next connect reuses it; our forwards do not stay', async () => {
  const first = await engine().connect(HOST);
  const pid = first.masterPid;
  const local = await first.forwardToLocal(AGENT_SOCK);
  assert.ok(await getInfo(local));
  await first.close();
  assert.equal(existsSync(local), false, 'the forward socket is removed');
  assert.ok(running(pid), 'the master stays for the next run');
  assert.equal(controlSockets().length, 1);

  const started = Date.now();
  const second = await engine().connect(HOST);
  const ms = Date.now() - started;
  try {
    assert.equal(second.masterPid, pid, 'the same master');
    assert.equal(second.facts().cipher, 'aes128-gcm@openssh.com', 'its facts come from its log');
    assert.equal(second.loginUser(), 'root');
    assert.ok(second.facts().hostKey?.fingerprint.startsWith('SHA256:'));
    const again = await second.forwardToLocal(AGENT_SOCK);
    assert.ok(await getInfo(again));
    assert.equal((await second.exec(['id', '-un'])).stdout.trim(), 'root');
    console.log(`# reusing a persisted master: connect in ${ms} ms`);
  } finally {
    await second.close();
  }
  // the master's log shows both unix listeners freed: the first run's forward was cancelled, not left bound
  const log = readFileSync(join(persistDir(), `${controlSockets()[0]}.log`), 'utf8');
  assert.equal(log.match(/free: unix listener/g)?.length, 2, 'one listener freed per forward');
});

test('other settings get their own master; two connects at once share one', async () => {
  const [a, b] = await Promise.all([engine({ ciphers: ['chacha20-poly1305@openssh.com'] }).connect(HOST), engine({ ciphers: ['chacha20-poly1305@openssh.com'] }).connect(HOST)]);
  const c = await engine().connect(HOST);
  try {
    assert.equal(a.masterPid, b.masterPid, 'the start lock let one start it and the other reuse it');
    assert.notEqual(a.masterPid, c.masterPid);
    assert.equal(a.facts().cipher, 'chacha20-poly1305@openssh.com');
    assert.equal(c.facts().cipher, 'aes128-gcm@openssh.com');
    assert.equal(controlSockets().length, 2);
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test('a dead master: its connection reports the loss, and the next connect starts a fresh one', async () => {
  const conn = await engine().connect(HOST);
  const pid = conn.masterPid as number;
  process.kill(pid, 'SIGKILL');
  await sleep(200);
  const err = await conn.exec(['true']).then(
    () => assert.fail('exec on a killed master must fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SshError && err.kind === 'unreachable' && /SSH connection lost/.test(err.message), String(err));
  await conn.close();
  const next = await engine().connect(HOST);
  try {
    assert.notEqual(next.masterPid, pid);
    assert.ok(await getInfo(await next.forwardToLocal(AGENT_SOCK)));
  } finally {
    await next.close();
  }
});

test('a master whose log passed 4 MiB is retired: the next connect stops it and starts a fresh one, with a fresh log', async () => {
  const own = (): OpenSshEngine => engine({ ciphers: ['aes256-gcm@openssh.com'] });
  const before = new Set(controlSockets());
  const first = await own().connect(HOST);
  const pid = first.masterPid;
  await first.close();
  const made = controlSockets().filter((s) => !before.has(s));
  assert.equal(made.length, 1);
  const log = join(persistDir(), `${made[0]}.log`);
  await appendFile(log, Buffer.alloc(4 * 1024 * 1024, 'x'));
  const next = await own().connect(HOST);
  try {
    assert.notEqual(next.masterPid, pid, 'a fresh master');
    assert.ok(statSync(log).size < 1024 * 1024, `a fresh log (${statSync(log).size} bytes)`);
    assert.equal(next.facts().cipher, 'aes256-gcm@openssh.com');
    assert.ok(await getInfo(await next.forwardToLocal(AGENT_SOCK)));
  } finally {
    await next.close();
  }
  const deadline = Date.now() + 15_000;
  while (running(pid) && Date.now() < deadline) await sleep(250);
  assert.equal(running(pid), false, 'the retired master, with no client left, ended');
});

test('a master with no client for `persist` seconds ends itself', async () => {
  const conn = await engine({ persistS: 2, connectTimeoutS: 6 }).connect(HOST);
  const pid = conn.masterPid;
  await conn.close();
  assert.ok(running(pid));
  const deadline = Date.now() + 15_000;
  while (running(pid) && Date.now() < deadline) await sleep(250);
  assert.equal(running(pid), false, 'gone within 15 s of a 2 s persist');
});

test("kvmctl with ssh.persist: the second run reuses the first run's master", async () => {
  const state = await mkdtemp(join(dir, 'kvmctl-'));
  await mkdir(join(state, 'kvmclone'));
  await writeFile(join(state, 'kvmclone', 'kvmctl.yaml'), 'ssh:\n  persist: 60s\n');
  const before = new Set(controlSockets());
  const first = await kvmctl(['--json', 'ls', HOST], { stateDir: state, engine: 'openssh' });
  assert.equal(first.code, 0, first.stderr);
  const made = controlSockets().filter((s) => !before.has(s));
  assert.equal(made.length, 1, 'one master for the kvmctl run');
  const check = async (): Promise<string> => (await run('ssh', ['-F', 'none', '-o', `ControlPath=${join(persistDir(), made[0])}`, '-O', 'check', HOST])).stderr;
  const pid = /pid=(\d+)/.exec(await check())?.[1];
  const second = await kvmctl(['--json', 'ls', HOST], { stateDir: state, engine: 'openssh' });
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(
    controlSockets().filter((s) => !before.has(s)),
    made,
  );
  assert.equal(/pid=(\d+)/.exec(await check())?.[1], pid, 'the same master served both runs');
});
