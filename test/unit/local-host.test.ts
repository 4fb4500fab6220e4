/**
 * Which HOSTs kvmctl reaches without SSH: `local`/`localhost`, and an ssh
 * alias or address that goes straight to port 22 of this machine as the
 * user kvmctl runs as (or any user when kvmctl is root). Anything else —
 * another port, a ProxyJump, another login user, a name that does not
 * resolve, a config kvmctl cannot read — goes through SSH.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOwnAddress, isThisMachine, type LocalFacts } from '../../controller/transport/local-host.js';
import type { SshSettings } from '../../controller/transport/ssh-engine.js';

const CONFIG = `
Host hosta
  HostName 10.0.0.5
Host hostb
  HostName 10.0.0.9
Host tunnel
  HostName 127.0.0.1
  Port 2222
Host jumped
  HostName 10.0.0.5
  ProxyJump hostb
Host other-user
  HostName 10.0.0.5
  User kvmclone
Host byname
  HostName a.example
Host gone
  HostName nowhere.example
Host piped
  HostName 10.0.0.5
  ProxyCommand nc %h %p
`;

async function withConfig(run: (settings: SshSettings) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmctl-local-'));
  try {
    await writeFile(join(dir, 'config'), CONFIG);
    await run({
      configFile: join(dir, 'config'),
      connectTimeoutS: 5,
      keepaliveS: 0,
      ciphers: ['aes128-gcm@openssh.com'],
      runtimeDir: dir,
      knownHostsFile: join(dir, 'known_hosts'),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const facts = (uid: number): Partial<LocalFacts> => ({
  addresses: () => ['10.0.0.5', 'fe80::1%eth0'],
  lookupAll: async (name) => (name === 'a.example' ? ['10.0.0.5'] : []),
  user: uid === 0 ? 'root' : 'alice',
  uid,
});

test('local and localhost are this machine; with a user or a port they go through ssh config', async () => {
  await withConfig(async (settings) => {
    assert.equal(await isThisMachine('local', settings, facts(1000)), true);
    assert.equal(await isThisMachine('localhost', settings, facts(1000)), true);
    assert.equal(await isThisMachine('localhost:2222', settings, facts(1000)), false);
    assert.equal(await isThisMachine('127.0.0.1', settings, facts(1000)), true);
    assert.equal(await isThisMachine('bob@localhost', settings, facts(1000)), false, 'another user, kvmctl not root');
    assert.equal(await isThisMachine('bob@localhost', settings, facts(0)), true, 'root reaches the socket anyway');
  });
});

test('an alias whose HostName is an address of this machine, port 22, no proxy, same user', async () => {
  await withConfig(async (settings) => {
    assert.equal(await isThisMachine('hosta', settings, facts(1000)), true);
    assert.equal(await isThisMachine('hostb', settings, facts(1000)), false);
    assert.equal(await isThisMachine('tunnel', settings, facts(1000)), false, 'localhost:2222 is often a tunnel elsewhere');
    assert.equal(await isThisMachine('jumped', settings, facts(1000)), false);
    assert.equal(await isThisMachine('piped', settings, facts(1000)), false, 'a ProxyCommand is never this machine');
    assert.equal(await isThisMachine('other-user', settings, facts(1000)), false);
    assert.equal(await isThisMachine('other-user', settings, facts(0)), true);
    assert.equal(await isThisMachine('byname', settings, facts(1000)), true);
    assert.equal(await isThisMachine('gone', settings, facts(1000)), false);
    assert.equal(await isThisMachine('-oProxyCommand=x', settings, facts(1000)), false);
  });
});

test('own addresses: loopback, interface addresses with or without a zone', () => {
  assert.equal(isOwnAddress('127.0.1.1', []), true);
  assert.equal(isOwnAddress('::1', []), true);
  assert.equal(isOwnAddress('fe80::1', ['fe80::1%eth0']), true);
  assert.equal(isOwnAddress('10.0.0.6', ['10.0.0.5']), false);
});
