/**
 * The ssh2 engine against the testbed, on trust, routes and failures: host-key
 * refusals compared with ssh-keygen's fingerprints, hashed known_hosts,
 * ProxyJump through hosta to hosta's own address (testbed hosts cannot reach
 * each other), passphrase-protected and wrong keys, ssh-agent, closed ports
 * and bad config, a dropped connection, and what close() leaves (checked
 * last, after the failed connects above). Forwards and exec:
 * ssh2-engine.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { SshError } from '../../controller/transport/ssh-engine.js';
import { Ssh2Engine } from '../../controller/transport/ssh2-engine.js';
import { AGENT_SOCK, CLIENT, fingerprint, fresh, rejectsWithKind, run, ssh2Fixture } from '../support/ssh-engine-fixture.js';
import { hostExec } from '../support/testbed.js';

const T = { deadlineMs: 30_000 };
const fx = ssh2Fixture();

test('an unknown host key is refused with the fingerprint ssh-keygen prints', async () => {
  const empty = join(fx.tmp, 'empty_known_hosts');
  await writeFile(empty, '');
  const strict = new Ssh2Engine({ ...fx.settings, knownHostsFile: empty });
  const err = await rejectsWithKind(strict.connect('hosta'), 'unknown-host-key', /^hosta \(169\.254\.201\.2:22\): host key ssh-ed25519 SHA256:\S+ is not in /);
  assert.equal(err.fingerprint, fx.hostKeyFp.get('hosta'));
  assert.ok(err.message.includes(`${fx.hostKeyFp.get('hosta')} is not in ${empty}`));
  assert.match(err.message, /refusing to connect\. Check the fingerprint out of band and add it with ssh-keyscan or ssh\.$/);
});

test('a changed host key is refused as changed, naming both fingerprints', async () => {
  const { tmp } = fx;
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, 'impostor')]);
  const impostor = (await readFile(join(tmp, 'impostor.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
  const file = join(tmp, 'changed_known_hosts');
  await writeFile(file, `169.254.201.2 ${impostor}\n`);
  const err = await rejectsWithKind(new Ssh2Engine({ ...fx.settings, knownHostsFile: file }).connect('hosta'), 'changed-host-key', /HOST KEY HAS CHANGED/);
  assert.equal(err.fingerprint, fx.hostKeyFp.get('hosta'));
  assert.ok(err.message.includes(`${file}:1 holds ${await fingerprint(join(tmp, 'impostor.pub'))}`));
});

test('hashed known_hosts (ssh-keygen -H) are accepted', async () => {
  const file = join(fx.tmp, 'hashed_known_hosts');
  await writeFile(file, await readFile(join(CLIENT, 'known_hosts')));
  await run('ssh-keygen', ['-q', '-H', '-f', file]);
  assert.doesNotMatch(await readFile(file, 'utf8'), /169\.254/);
  const c = await new Ssh2Engine({ ...fx.settings, knownHostsFile: file }).connect('hostb');
  try {
    assert.equal((await c.exec(['printenv', 'E2E_HOST'])).stdout, 'hostb\n');
  } finally {
    await c.close();
  }
});

test("ProxyJump through hosta to hosta's own address; an unreachable target names the jump host", async () => {
  const config = await fx.configWith('jump_config', [
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
  const jumping = new Ssh2Engine({ ...fx.settings, configFile: config });
  const c = await jumping.connect('hosta-self');
  try {
    // seen from sshd, the client is hosta itself (the jump), not the controller at .1
    assert.match((await c.exec(['sh', '-c', 'echo $SSH_CONNECTION'])).stdout, /^169\.254\.201\.2 \d+ 169\.254\.201\.2 22\n$/);
    const direct = (await fx.hosta.exec(['sh', '-c', 'echo $SSH_CONNECTION'])).stdout;
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
  await rejectsWithKind(jumping.connect('hostb-via-a'), 'unreachable', /^hostb-via-a \(169\.254\.202\.2:22\): jump host hosta could not connect to it/);
});

test('authentication: a passphrase-protected key is never prompted for; a wrong key fails clearly', async () => {
  const { tmp } = fx;
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret phrase', '-f', join(tmp, 'locked')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, 'stranger')]);
  const config = await fx.configWith('auth_config', [
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
  const e = new Ssh2Engine({ ...fx.settings, configFile: config });
  await rejectsWithKind(e.connect('locked'), 'auth', new RegExp(`${join(tmp, 'locked')} is passphrase-protected and kvmctl never prompts: load it into ssh-agent with ssh-add`));
  const wrong = await rejectsWithKind(e.connect('stranger'), 'auth', /^stranger \(169\.254\.201\.2:22\): authentication as root failed; offered: \S+stranger;/);
  assert.doesNotMatch(wrong.message, /missing-key-is-skipped/);
});

test('a closed port is unreachable; a bad HOST or config line is a config error before any connection', async () => {
  await rejectsWithKind(
    new Ssh2Engine({ ...fx.settings, identityFile: join(CLIENT, 'id_ed25519') }).connect('root@169.254.201.2:2999'),
    'unreachable',
    /169\.254\.201\.2:2999.*cannot connect: connect ECONNREFUSED/,
  );
  await rejectsWithKind(fx.engine.connect('-oProxyCommand=sh'), 'config', /starts with '-'/);
  const config = await fx.configWith('bad_config', ['Match exec "true"', '  User nobody']);
  await rejectsWithKind(new Ssh2Engine({ ...fx.settings, configFile: config }).connect('hosta'), 'config', /bad_config:1: "Match exec true" is not supported by the ssh2 engine/);
});

/** An ssh-agent listening at `sock` (once it is there, or after 2.5 s). */
async function startSshAgent(sock: string): Promise<ChildProcess> {
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  for (let i = 0; i < 50; i += 1) {
    if (
      await access(sock).then(
        () => true,
        () => false,
      )
    )
      break;
    await sleep(50);
  }
  return agent;
}

/**
 * The client key added to the agent at `agentSock`, and keys in tmp: enc, the client key passphrase-protected
 * (usable only through the agent, matched by its .pub), and other, not authorized.
 */
async function agentTestKeys(tmp: string, agentSock: string): Promise<void> {
  await run('ssh-add', ['-q', join(CLIENT, 'id_ed25519')], { env: { ...process.env, SSH_AUTH_SOCK: agentSock } });
  await run('cp', [join(CLIENT, 'id_ed25519'), join(tmp, 'enc')]);
  await run('cp', [join(CLIENT, 'id_ed25519.pub'), join(tmp, 'enc.pub')]);
  await run('ssh-keygen', ['-q', '-p', '-P', '', '-N', 'pass phrase', '-f', join(tmp, 'enc')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, 'other')]);
}

test('ssh-agent: its keys are used, filtered by IdentitiesOnly against the identity files (an encrypted file is fine when the agent holds it)', async () => {
  const { tmp } = fx;
  const agentSock = join(tmp, 'agent.sock');
  const agent = await startSshAgent(agentSock);
  try {
    await agentTestKeys(tmp, agentSock);
    const config = await fx.configWith('agent_config', [
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
    const e = new Ssh2Engine({ ...fx.settings, configFile: config });
    for (const name of ['via-agent-enc', 'via-agent-any']) {
      const c = await e.connect(name);
      try {
        assert.equal((await c.exec(['printenv', 'E2E_HOST'])).stdout, 'hosta\n', name);
      } finally {
        await c.close();
      }
    }
    // IdentitiesOnly: the agent's key is not other's, so it is not offered; other itself is not authorized
    const err = await rejectsWithKind(e.connect('via-agent-other'), 'auth', /authentication as root failed; offered: \S+\/other\.$/);
    assert.doesNotMatch(err.message, /from ssh-agent/);
  } finally {
    agent.kill('SIGTERM');
  }
});

test('a dropped connection fails what is in flight and every later call, clearly', async () => {
  const c = await fx.engine.connect('hostb');
  try {
    // kill the sshd process serving this connection (the parent of the command's shell)
    const killed = await c.exec(['sh', '-c', 'kill -9 $PPID; sleep 5']).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(killed instanceof SshError && killed.kind === 'unreachable', String(killed));
    await rejectsWithKind(c.exec(['true']), 'unreachable', /^hostb: SSH connection lost/);
    await rejectsWithKind(c.forwardToLocal(AGENT_SOCK), 'unreachable', /SSH connection lost/);
  } finally {
    await c.close();
  }
  // an abort while connecting: rejected at once, nothing left behind (see the runtime dir check at the end)
  const ac = new AbortController();
  const connecting = fx.engine.connect('hostb', { signal: ac.signal });
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(connecting, { name: 'AbortError' });
  await assert.rejects(fx.engine.connect('hostb', { signal: AbortSignal.abort() }), { name: 'AbortError' });
});

test('close() removes the local sockets and the remote forwards, is idempotent, and later calls fail clearly', async () => {
  const c = await fx.engine.connect('hostb');
  const local = await c.forwardToLocal(AGENT_SOCK);
  const dir = dirname(local);
  const remotePath = fresh();
  await c.forwardToRemote(remotePath, local);
  assert.equal((await hostExec('hostb', ['stat', '-c', '%F', remotePath])).trim(), 'socket');
  await c.close();
  await c.close();
  await assert.rejects(access(dir), { code: 'ENOENT' });
  assert.equal((await hostExec('hostb', ['sh', '-c', 'test -e "$1" && echo present || echo gone', 'sh', remotePath])).trim(), 'gone');
  await rejectsWithKind(c.exec(['true']), 'other', /connection is closed/);
  // failed connects and closed connections left nothing: only hosta's and hostb's open connections remain
  const rt = await readdir(join(fx.tmp, 'rt'));
  assert.equal(rt.length, 2, rt.join(','));
});
