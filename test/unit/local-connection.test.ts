/**
 * The connection of a host that is this machine: an agent socket is used
 * where it is (checked reachable), a socket that must appear elsewhere is a
 * relay that never takes over an existing path and is removed when
 * cancelled (unless the agent removes it), and commands run here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalConnection } from '../../controller/transport/local-connection.js';
import { SshError } from '../../controller/transport/ssh-engine.js';

async function echoServer(path: string): Promise<Server> {
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

async function roundTrip(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let got = '';
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) {
        sock.end();
        resolve(got);
      }
    });
    sock.on('error', reject);
    sock.write(text);
  });
}

test('forwardToLocal: the socket itself, or a relay at `at`; a missing socket is a forward error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmctl-lc-'));
  const agent = await echoServer(join(dir, 'agent.sock'));
  const c = new LocalConnection('local');
  try {
    assert.equal(c.onThisMachine, true);
    assert.equal(await c.forwardToLocal(join(dir, 'agent.sock')), join(dir, 'agent.sock'));
    await assert.rejects(c.forwardToLocal(join(dir, 'none.sock')), (e: unknown) => e instanceof SshError && e.kind === 'forward' && /cannot reach/.test(e.message));
    await writeFile(join(dir, 'plain'), 'x');
    await assert.rejects(c.forwardToLocal(join(dir, 'plain')), /not a socket/);
    const at = join(dir, 'peer-0123456789.sock');
    assert.equal(await c.forwardToLocal(join(dir, 'agent.sock'), { at }), at);
    assert.equal(await roundTrip(at, 'through the relay'), 'through the relay');
    await c.cancelLocalForward(at);
    assert.equal(existsSync(at), false);
  } finally {
    await c.close();
    agent.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('forwardToRemote: never takes over an existing path; hostRemoves leaves the file to the agent', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmctl-lc-'));
  const agent = await echoServer(join(dir, 'agent.sock'));
  const someone = await echoServer(join(dir, 'taken.sock'));
  const c = new LocalConnection('local');
  try {
    await assert.rejects(c.forwardToRemote(join(dir, 'taken.sock'), join(dir, 'agent.sock')), /cannot listen at .*EADDRINUSE/);
    assert.equal(await roundTrip(join(dir, 'taken.sock'), 'still theirs'), 'still theirs');
    await c.cancelRemoteForward(join(dir, 'taken.sock'));
    assert.equal(existsSync(join(dir, 'taken.sock')), true, 'a path this connection did not make is left alone');
    await c.forwardToRemote(join(dir, 'r.sock'), join(dir, 'agent.sock'));
    assert.equal(await roundTrip(join(dir, 'r.sock'), 'abc'), 'abc');
    await c.cancelRemoteForward(join(dir, 'r.sock'));
    assert.equal(existsSync(join(dir, 'r.sock')), false);
  } finally {
    await c.close();
    agent.close();
    someone.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('exec runs here: exit codes and output as a remote command would give them', async () => {
  const c = new LocalConnection('local');
  assert.deepEqual(await c.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']), { code: 3, stdout: 'out\n', stderr: 'err\n' });
  assert.equal((await c.exec(['true'])).code, 0);
  await assert.rejects(c.exec(['/nonexistent/binary']), /cannot run/);
  await c.close();
  await assert.rejects(c.exec(['true']), /closed/);
});
