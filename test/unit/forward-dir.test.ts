/**
 * The forward directory (agent/server/forward-dir.ts): where an unprivileged
 * SSH account binds the per-operation peer sockets. Its mode and group, the
 * start-up sweep of dead sockets, RemovePeerSocket's checks, and which peer
 * socket paths a pull may dial.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvmcloneError } from '../../shared/errors.js';
import { FORWARD_DIR_MODE, forwardDirOf, prepareForwardDir, removePeerSocket } from '../../agent/server/forward-dir.js';
import { checkPeerSocket } from '../../agent/transfer/pull-image.js';
import { parseStatusGroups } from '../../agent/server/caller-groups.js';

let dir: string;
const servers: Server[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forward-dir-'));
});

after(async () => {
  for (const s of servers) s.close();
  await rm(dir, { recursive: true, force: true });
});

async function listen(path: string): Promise<Server> {
  const server = createServer((s) => s.destroy());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

/** A socket file nobody listens on (what sshd leaves after a cancelled -R): bound by a process that exits. */
async function deadSocket(path: string): Promise<void> {
  execFileSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
}

const OP = 'peer-0123abcd-4567.sock';

test("with a socket group: root-owned, that group, mode 1770 (members bind, only an entry's owner unlinks it, others see nothing)", async () => {
  const runtime = join(dir, 'g');
  await mkdir(runtime);
  const { dir: fwd } = await prepareForwardDir(runtime, 4242);
  assert.equal(fwd, forwardDirOf(runtime));
  const st = await lstat(fwd);
  assert.ok(st.isDirectory());
  assert.equal(st.mode & 0o7777, FORWARD_DIR_MODE);
  assert.equal(FORWARD_DIR_MODE, 0o1770);
  assert.equal(st.uid, process.getuid?.());
  assert.equal(st.gid, 4242);
});

test('without a socket group: 0700, root only (a root login still binds there)', async () => {
  const runtime = join(dir, 'nog');
  await mkdir(runtime);
  const { dir: fwd } = await prepareForwardDir(runtime, undefined);
  assert.equal((await lstat(fwd)).mode & 0o7777, 0o700);
});

test('an existing directory with a wrong mode is repaired; a symlink or file in its place is refused', async () => {
  const runtime = join(dir, 'repair');
  await mkdir(join(runtime, 'forward'), { recursive: true, mode: 0o777 });
  await prepareForwardDir(runtime, 4242);
  assert.equal((await lstat(forwardDirOf(runtime))).mode & 0o7777, 0o1770);

  const linked = join(dir, 'linked');
  await mkdir(linked);
  await mkdir(join(dir, 'elsewhere'));
  await symlink(join(dir, 'elsewhere'), join(linked, 'forward'));
  await assert.rejects(prepareForwardDir(linked, 4242), (e: unknown) => e instanceof KvmcloneError && e.code === 'FAILED_PRECONDITION' && /not a directory/.test(e.message));
  assert.equal((await lstat(join(dir, 'elsewhere'))).mode & 0o7777, 0o755 & ~process.umask(), 'the symlink target is not touched');
});

test('start-up sweep: dead peer sockets go; live ones, other names and other file types stay', async () => {
  const runtime = join(dir, 'sweep');
  const fwd = forwardDirOf(runtime);
  await mkdir(fwd, { recursive: true });
  await deadSocket(join(fwd, 'peer-deadbeef-0001.sock'));
  await listen(join(fwd, 'peer-11ve0000-0002.sock'));
  await deadSocket(join(fwd, 'other.sock'));
  await writeFile(join(fwd, 'peer-f11e0000-0003.sock'), 'not a socket');
  const { removed } = await prepareForwardDir(runtime, 4242);
  assert.equal(removed, 1);
  await assert.rejects(lstat(join(fwd, 'peer-deadbeef-0001.sock')));
  assert.ok((await lstat(join(fwd, 'peer-11ve0000-0002.sock'))).isSocket(), 'a socket someone listens on stays');
  assert.ok((await lstat(join(fwd, 'other.sock'))).isSocket());
  assert.ok((await lstat(join(fwd, 'peer-f11e0000-0003.sock'))).isFile());
});

test('RemovePeerSocket removes <forward dir>/peer-<id>.sock only, and only a socket', async () => {
  const runtime = join(dir, 'remove');
  const { dir: fwd } = await prepareForwardDir((await mkdir(runtime), runtime), 4242);
  await deadSocket(join(fwd, OP));
  assert.equal(await removePeerSocket(join(fwd, OP), fwd), true);
  await assert.rejects(lstat(join(fwd, OP)));
  assert.equal(await removePeerSocket(join(fwd, OP), fwd), false, 'absent is fine');

  await writeFile(join(fwd, 'peer-f11e0000-0009.sock'), 'x');
  await assert.rejects(removePeerSocket(join(fwd, 'peer-f11e0000-0009.sock'), fwd), (e: unknown) => e instanceof KvmcloneError && e.code === 'FAILED_PRECONDITION');
  assert.ok((await lstat(join(fwd, 'peer-f11e0000-0009.sock'))).isFile(), 'a plain file is never removed');
  await symlink('/etc/passwd', join(fwd, 'peer-5y111111-0010.sock'));
  await assert.rejects(removePeerSocket(join(fwd, 'peer-5y111111-0010.sock'), fwd), (e: unknown) => e instanceof KvmcloneError && e.code === 'FAILED_PRECONDITION');

  for (const bad of [
    join(runtime, OP),
    join(runtime, 'agent.sock'),
    join(fwd, '..', 'agent.sock'),
    join(fwd, 'x.sock'),
    '/etc/passwd',
    'relative/peer-0123abcd-4567.sock',
    join(fwd, 'sub', OP),
  ]) {
    await assert.rejects(removePeerSocket(bad, fwd), (e: unknown) => e instanceof KvmcloneError && e.code === 'INVALID_ARGUMENT', bad);
  }
});

test('a pull dials <forward dir>/peer-<id>.sock or (older controllers) <runtime dir>/peer-<id>.sock, nothing else', () => {
  const runtime = '/run/kvmclone';
  assert.equal(checkPeerSocket(`/run/kvmclone/forward/${OP}`, runtime), `/run/kvmclone/forward/${OP}`);
  assert.equal(checkPeerSocket(`/run/kvmclone/${OP}`, runtime), `/run/kvmclone/${OP}`);
  for (const bad of [
    `/tmp/${OP}`,
    '/run/kvmclone/agent.sock',
    '/run/kvmclone/forward/agent.sock',
    `/run/kvmclone/forward/x/${OP}`,
    `/run/kvmclone/forward/../forward/${OP}`,
    `/run/kvmclone/live/${OP}`,
  ]) {
    assert.throws(
      () => checkPeerSocket(bad, runtime),
      (e: unknown) => e instanceof KvmcloneError && e.code === 'INVALID_ARGUMENT',
      bad,
    );
  }
});

test('caller groups come from the Groups: line of /proc/<pid>/status', () => {
  assert.deepEqual(parseStatusGroups('Name:\tsshd\nUid:\t998\t998\t998\t998\nGroups:\t998 4242 \nNSpgid:\t1\n'), [998, 4242]);
  assert.deepEqual(parseStatusGroups('Groups:\t\n'), []);
  assert.deepEqual(parseStatusGroups('Name:\tx\n'), []);
});
