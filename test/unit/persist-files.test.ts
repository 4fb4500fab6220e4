/**
 * ssh.persist's files: the private directory, the key that decides which
 * runs may share a master, and the start lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensurePersistDir, persistDir, persistKey, STALE_PERSIST_MS, sweepPersistDir, withStartLock } from '../../controller/transport/persist-files.js';
import { processStartTicks } from '../../controller/replication/process-identity.js';
import { SshError, type SshSettings } from '../../controller/transport/ssh-engine.js';

const base = mkdtempSync(join(tmpdir(), 'persist-files-'));
const settings = (over: Partial<SshSettings> = {}): SshSettings => ({
  configFile: join(base, 'config'),
  connectTimeoutS: 5,
  keepaliveS: 15,
  ciphers: [],
  runtimeDir: base,
  ...over,
});

test('persistDir: under XDG_RUNTIME_DIR when set (absolute), else per user in the temporary directory', () => {
  assert.equal(persistDir({ XDG_RUNTIME_DIR: '/run/user/1000' }), '/run/user/1000/kvmclone-ssh');
  assert.equal(persistDir({ XDG_RUNTIME_DIR: 'relative' }), join(tmpdir(), `kvmclone-ssh-${process.getuid?.()}`));
  assert.equal(persistDir({}), join(tmpdir(), `kvmclone-ssh-${process.getuid?.()}`));
});

test('ensurePersistDir creates a 0700 directory and accepts it again', () => {
  const dir = join(base, 'made');
  ensurePersistDir('h', dir);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  ensurePersistDir('h', dir);
});

test('ensurePersistDir refuses a directory others can reach, a symlink and a file', () => {
  const open = join(base, 'open');
  mkdirSync(open, { mode: 0o755 });
  chmodSync(open, 0o755);
  assert.throws(
    () => ensurePersistDir('h', open),
    (e: unknown) => e instanceof SshError && e.kind === 'config' && /mode 0700/.test(e.message),
  );
  const link = join(base, 'link');
  const target = join(base, 'target');
  mkdirSync(target, { mode: 0o700 });
  symlinkSync(target, link);
  assert.throws(() => ensurePersistDir('h', link), /must be a directory owned by this user/);
  const file = join(base, 'file');
  writeFileSync(file, '');
  assert.throws(() => ensurePersistDir('h', file), /must be a directory/);
});

test('persistKey: the same settings give the same key; any trust or connection setting, or HOST, another', () => {
  const k = persistKey('/usr/bin/ssh', 'hosta', settings());
  assert.match(k, /^[0-9a-f]{20}$/);
  assert.equal(persistKey('/usr/bin/ssh', 'hosta', settings()), k);
  // the per-run directory is not part of it: the next run has another one
  assert.equal(persistKey('/usr/bin/ssh', 'hosta', settings({ runtimeDir: '/elsewhere' })), k);
  const others = [
    persistKey('/usr/bin/ssh', 'hostb', settings()),
    persistKey('/usr/local/bin/ssh', 'hosta', settings()),
    persistKey('/usr/bin/ssh', 'hosta', settings({ ciphers: ['aes256-gcm@openssh.com'] })),
    persistKey('/usr/bin/ssh', 'hosta', settings({ connectTimeoutS: 6 })),
    persistKey('/usr/bin/ssh', 'hosta', settings({ identityFile: join(base, 'id') })),
    persistKey('/usr/bin/ssh', 'hosta', settings({ knownHostsFile: join(base, 'kh') })),
  ];
  assert.equal(new Set([k, ...others]).size, others.length + 1);
});

test('persistKey changes when a file it names changes (an edited known_hosts must not reuse a master)', () => {
  const kh = join(base, 'known_hosts');
  writeFileSync(kh, 'hosta ssh-ed25519 AAAA\n');
  const before = persistKey('/usr/bin/ssh', 'hosta', settings({ knownHostsFile: kh }));
  assert.equal(persistKey('/usr/bin/ssh', 'hosta', settings({ knownHostsFile: kh })), before);
  writeFileSync(kh, 'hosta ssh-ed25519 BBBBBB\n');
  assert.notEqual(persistKey('/usr/bin/ssh', 'hosta', settings({ knownHostsFile: kh })), before);
});

test('withStartLock: one holder at a time; the next waits and then runs', async () => {
  const lock = join(base, 'a.lock');
  const order: string[] = [];
  const first = withStartLock('h', lock, 5000, undefined, async () => {
    order.push('first in');
    await sleep(150);
    order.push('first out');
  });
  await sleep(20);
  const second = withStartLock('h', lock, 5000, undefined, () => {
    order.push('second');
    return Promise.resolve(42);
  });
  await first;
  assert.equal(await second, 42);
  assert.deepEqual(order, ['first in', 'first out', 'second']);
  assert.equal(existsSync(lock), false);
  await assert.rejects(
    withStartLock('h', lock, 5000, undefined, () => Promise.reject(new Error('failed inside'))),
    /failed inside/,
  );
  assert.equal(existsSync(lock), false, 'released when the work fails');
});

test('withStartLock takes over a lock whose holder is gone, and one left unreadable for long', async () => {
  const dead = spawnSync('true').pid; // a pid that has exited
  const lock = join(base, 'b.lock');
  writeFileSync(lock, `${dead} 12345\n`);
  assert.equal(await withStartLock('h', lock, 1000, undefined, () => Promise.resolve('ran')), 'ran');
  writeFileSync(lock, '');
  utimesSync(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  assert.equal(await withStartLock('h', lock, 1000, undefined, () => Promise.resolve('ran again')), 'ran again');
});

test('withStartLock gives up on a live holder after the wait, naming it; an abort ends the wait', async () => {
  const lock = join(base, 'c.lock');
  const holder = withStartLock('h', lock, 1000, undefined, () => sleep(600));
  await sleep(20);
  await assert.rejects(
    withStartLock('h', lock, 200, undefined, () => Promise.resolve()),
    (e: unknown) => e instanceof SshError && /another kvmctl has been starting the shared SSH connection/.test(e.message),
  );
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('stop')), 50);
  await assert.rejects(
    withStartLock('h', lock, 5000, ac.signal, () => Promise.resolve()),
    /stop/,
  );
  await holder;
});

test('sweepPersistDir removes old logs without a socket and old locks of dead holders, nothing else', () => {
  const dir = join(base, 'sweep');
  mkdirSync(dir, { mode: 0o700 });
  const files: Record<string, string> = {
    'cm-aa.log': 'expired master', // no socket: swept
    'cm-bb': "stands for a live master's socket",
    'cm-bb.log': 'live master', // its socket is there: kept
    'cm-cc.log': 'starting master', // young: kept
    'cm-dd.lock': '999999999 1\n', // holder gone: swept
    'cm-ee.lock': `${process.pid} ${processStartTicks(process.pid)}\n`, // holder runs: kept
    'notes.log': 'not ours', // another name: kept
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const now = Date.now();
  const old = (now - STALE_PERSIST_MS - 60_000) / 1000;
  for (const name of Object.keys(files).filter((n) => n !== 'cm-cc.log')) utimesSync(join(dir, name), old, old);
  assert.deepEqual(sweepPersistDir(dir, now).sort(), ['cm-aa.log', 'cm-dd.lock']);
  for (const name of Object.keys(files)) assert.equal(existsSync(join(dir, name)), !['cm-aa.log', 'cm-dd.lock'].includes(name), name);
  assert.deepEqual(sweepPersistDir(join(base, 'absent')), [], 'a missing directory is nothing to sweep');
});
