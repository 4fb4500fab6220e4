/**
 * No root SSH login (issue 10): kvmctl works over the dedicated unprivileged
 * account the testbed sets up as an operator would (deploy/sshd/kvmclone.conf):
 * a system user `kvmclone` with a nologin shell, in the agent's socket group,
 * whose key may only forward (`restrict,port-forwarding`) and whose sshd Match
 * block allows stream-local forwarding only. The account can clone and sync,
 * cannot run a command, cannot bind a -R socket outside the agent's forward
 * directory, and `hosts check` says what it is and may do. No root login is
 * made by kvmctl at all.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { OpenSshEngine } from '../../controller/transport/openssh-engine.js';
import { Ssh2Engine } from '../../controller/transport/ssh2-engine.js';
import type { SshConnection, SshSettings } from '../../controller/transport/ssh-engine.js';
import { kvmctl } from '../support/kvmctl.js';
import { E2E_DIR, SSH_ACCOUNT, TESTBED_DIR, hostExec, hostImagesDir, sshConfigPath, testbedScript, IMAGES } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';

const run = promisify(execFile);
const FORWARD_DIR = '/run/kvmclone/forward';
const T = { deadlineMs: 15_000 };
/** kvmctl's state directory, also the file's scratch space (the sshd config under test, the echo socket). */
let state: string;
/** A unix socket that says hello (`local`): what the account may forward to. */
let echo: { local: string; server: Server };

/** Runs the OpenSSH client with the testbed config; resolves with its exit code and output (never rejects). */
async function ssh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('ssh', ['-F', sshConfigPath(), ...args], { timeout: 30_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

/** Root logins sshd of `host` accepted so far. */
async function rootLogins(host: string): Promise<number> {
  return (await readFile(join(E2E_DIR, host, 'sshd.log'), 'utf8')).split('\n').filter((l) => /Accepted publickey for root /.test(l)).length;
}

before(async () => {
  state = await upHosts('account');
  echo = { local: join(state, 'echo.sock'), server: createServer((s) => s.end('hello\n')) };
  await new Promise<void>((resolve) => echo.server.listen(echo.local, resolve));
});

after(async () => {
  echo?.server.close();
  await downHosts(state);
});

test("the account is an unprivileged system user with no shell, in the agent socket's group; the forward dir is root:kvmclone 1770", async () => {
  const [name, , uid, , , , shell] = (await run('getent', ['passwd', SSH_ACCOUNT])).stdout.trim().split(':');
  assert.equal(name, SSH_ACCOUNT);
  assert.notEqual(Number(uid), 0);
  assert.equal(shell, '/usr/sbin/nologin');
  assert.equal((await hostExec('hosta', ['stat', '-c', '%U %G %a', '/run/kvmclone/agent.sock'])).trim(), `root ${SSH_ACCOUNT} 660`);
  assert.equal((await hostExec('hosta', ['stat', '-c', '%U %G %a', '/run/kvmclone'])).trim(), 'root root 755', "the agent's own directory stays root's");
  assert.equal((await hostExec('hosta', ['stat', '-c', '%U %G %a', FORWARD_DIR])).trim(), `root ${SSH_ACCOUNT} 1770`);
});

test('deploy/sshd/kvmclone.conf is valid sshd configuration and gives the account exactly the settings the testbed uses', async () => {
  const conf = join(TESTBED_DIR, '..', '..', 'deploy', 'sshd', 'kvmclone.conf');
  const main = join(state, 'sshd_config');
  // included at the top, as Debian's sshd_config does with sshd_config.d/*.conf, with settings after it
  await writeFile(main, `HostKey ${join(E2E_DIR, 'hosta', 'ssh', 'host_ed25519_key')}\nUsePAM no\nInclude ${conf}\nX11Forwarding yes\nPermitTTY yes\n`);
  const effective = async (user: string): Promise<Map<string, string>> =>
    new Map(
      (await hostExec('hosta', ['/usr/sbin/sshd', '-T', '-f', main, '-C', `user=${user},host=controller,addr=169.254.201.1`]))
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]),
    );
  const account = await effective(SSH_ACCOUNT);
  const want: Record<string, string> = {
    allowstreamlocalforwarding: 'yes',
    permitlisten: 'none',
    permitopen: 'any',
    allowagentforwarding: 'no',
    x11forwarding: 'no',
    permittunnel: 'no',
    permittty: 'no',
    permituserrc: 'no',
    streamlocalbindunlink: 'no',
    forcecommand: '/usr/sbin/nologin',
    authorizedkeysfile: '/etc/ssh/kvmclone/authorized_keys',
  };
  for (const [key, value] of Object.entries(want)) assert.equal(account.get(key), value, key);
  // its Match block ends with the file: nothing of it applies to other users, and the main file's later lines still do
  const other = await effective('root');
  assert.equal(other.get('x11forwarding'), 'yes');
  assert.ok([undefined, 'none'].includes(other.get('forcecommand')), other.get('forcecommand'));
  assert.equal(other.get('permittty'), 'yes');
});

test('it cannot run a command, get a shell or use sftp', async () => {
  const id = await ssh(['hosta', 'id']);
  assert.notEqual(id.code, 0);
  assert.notEqual(id.code, 255, `it logs in (255 would be ssh failing): ${id.stderr}`);
  assert.ok(!/uid=/.test(id.stdout + id.stderr), id.stdout);
  assert.match(id.stdout + id.stderr, /This account is currently not available/);
  const tty = await ssh(['-tt', 'hosta', 'sh', '-c', 'echo ran']);
  assert.ok(!/^ran/m.test(tty.stdout), tty.stdout);
  const sftp = await run('sftp', ['-F', sshConfigPath(), '-b', '-', 'hosta'], { timeout: 30_000 }).then(
    () => 0,
    (e: { code: number }) => e.code,
  );
  assert.notEqual(sftp, 0, 'no sftp either (ForceCommand replaces the subsystem)');
  // the root entry of the same host still has a shell: root login stays possible, it is just not needed
  assert.equal((await ssh(['hosta-root', 'id', '-u'])).stdout.trim(), '0');
});

test('it cannot bind a -R socket outside the forward dir, nor any TCP forward; inside the forward dir it can', async () => {
  for (const path of ['/run/kvmclone/peer-0123abcd-4567.sock', '/run/kvmclone/agent.sock', '/run/kvmclone/live/x.sock', '/var/lib/libvirt/images/x.sock']) {
    const r = await ssh(['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `${path}:${echo.local}`, 'hosta']);
    assert.equal(r.code, 255, `${path}: ${r.stderr}`);
    assert.match(r.stderr, /remote port forwarding failed/, path);
  }
  const left = await hostExec('hosta', [
    'sh',
    '-c',
    'for p in /run/kvmclone/peer-0123abcd-4567.sock /run/kvmclone/live/x.sock /var/lib/libvirt/images/x.sock; do test -e "$p" && echo "$p"; done; stat -c "%U %a" /run/kvmclone/agent.sock',
  ]);
  assert.equal(left.trim(), 'root 660', 'nothing was created, and the agent socket was not replaced');
  const tcp = await ssh(['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `0:127.0.0.1:22`, 'hosta']);
  assert.equal(tcp.code, 255, tcp.stderr);
  // the agent socket itself it may reach (it is in the socket group): that is what kvmctl forwards with -L
  const settings: SshSettings = { configFile: sshConfigPath(), connectTimeoutS: 5, keepaliveS: 15, ciphers: [], runtimeDir: await mkdtemp(join(tmpdir(), 'kvmc-rt-')) };
  const conn = await new OpenSshEngine(settings).connect('hosta');
  try {
    const remote = `${FORWARD_DIR}/peer-acc0unt-${Date.now()}.sock`;
    await conn.forwardToRemote(remote, echo.local, { hostRemoves: true });
    assert.equal((await hostExec('hosta', ['stat', '-c', '%U %a', remote])).trim(), `${SSH_ACCOUNT} 600`, 'sshd binds it as the account, private to it (and root)');
    assert.equal(
      await hostExec('hosta', ['python3', '-c', `import socket; s = socket.socket(socket.AF_UNIX); s.connect(${JSON.stringify(remote)}); print(s.recv(10).decode().strip())`]),
      'hello\n',
    );
    await conn.cancelRemoteForward(remote);
    // the agent removes it (the account runs no rm): through the agent socket reached over the same login
    const agent = createAgentClients(`unix:${await conn.forwardToLocal('/run/kvmclone/agent.sock')}`);
    try {
      assert.deepEqual(await unaryCall(agent.transfer, agent.transfer.removePeerSocket, { path: remote }, T), { removed: true });
    } finally {
      agent.close();
    }
    assert.equal((await hostExec('hosta', ['sh', '-c', `test -e ${remote} && echo present || echo absent`])).trim(), 'absent');
  } finally {
    await conn.close();
    await rm(settings.runtimeDir, { recursive: true, force: true });
  }
});

test('both engines log in as the account with no remote command; exec is refused, not run', async () => {
  const settings: SshSettings = { configFile: sshConfigPath(), connectTimeoutS: 5, keepaliveS: 15, ciphers: [], runtimeDir: await mkdtemp(join(tmpdir(), 'kvmc-rt-')) };
  try {
    for (const engine of [new OpenSshEngine(settings), new Ssh2Engine(settings)]) {
      const conn: SshConnection = await engine.connect('hosta');
      try {
        assert.equal(conn.loginUser(), SSH_ACCOUNT, engine.name);
        const agent = createAgentClients(`unix:${await conn.forwardToLocal('/run/kvmclone/agent.sock')}`);
        try {
          assert.ok((await unaryCall(agent.info, agent.info.getInfo, {}, T)).capabilities.includes('transfer.forward-dir'), engine.name);
        } finally {
          agent.close();
        }
        const r = await conn.exec(['id']);
        assert.notEqual(r.code, 0, `${engine.name}: ${JSON.stringify(r)}`);
        assert.ok(!/uid=/.test(r.stdout), engine.name);
      } finally {
        await conn.close();
      }
    }
  } finally {
    await rm(settings.runtimeDir, { recursive: true, force: true });
  }
});

test('hosts check names the account and what it may do', async () => {
  const out = await kvmctl(['--json', 'hosts', 'check', 'hosta', 'hostb', 'hosta-root'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const hosts = out.result?.hosts as { host: string; account: { user?: string; uid?: number; root?: boolean; role: string; forwardDir: string; forwardBind: string } }[];
  const uid = Number((await run('id', ['-u', SSH_ACCOUNT])).stdout.trim());
  for (const h of hosts) {
    const root = h.host === 'hosta-root';
    assert.equal(h.account.user, root ? 'root' : SSH_ACCOUNT, h.host);
    assert.equal(h.account.forwardDir, FORWARD_DIR, h.host);
    assert.equal(h.account.forwardBind, 'ok', h.host);
    // an agent that records SO_PEERCRED reports who the login became; one that does not, nothing
    if (h.account.uid !== undefined) {
      assert.equal(h.account.uid, root ? 0 : uid, h.host);
      assert.equal(h.account.root, root, h.host);
    }
  }
  const text = await kvmctl(['hosts', 'check', 'hostb'], { stateDir: state });
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    new RegExp(`ssh account ${SSH_ACCOUNT} \\((uid ${uid}, not root|uid not reported by this agent)\\); agent socket: .*; forward dir ${FORWARD_DIR}: can bind`),
  );
  assert.equal((await hostExec('hostb', ['ls', '-A', FORWARD_DIR])).trim(), '', 'the check left no socket behind');
});

test('clone and sync as the account: equal disks, no socket left, and kvmctl made no root login', async () => {
  await testbedScript('make-vm.sh', ['hosta', 'acc1', '--raw-size-mb', '64']);
  const roots = [await rootLogins('hosta'), await rootLogins('hostb')];
  const clone = await kvmctl(['--json', 'clone', 'acc1', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(clone.code, 0, `${clone.stdout}\n${clone.stderr}`);
  await run('qemu-img', ['compare', '-q', join(hostImagesDir('hosta'), 'acc1.qcow2'), join(hostImagesDir('hostb'), 'acc1.qcow2')]);
  await hostExec('hosta', ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 8M 256k', '-c', 'write -P 0xa5 40M 64k', `${IMAGES}/acc1.qcow2`]);
  const sync = await kvmctl(['--json', 'sync', 'acc1', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(sync.code, 0, `${sync.stdout}\n${sync.stderr}`);
  assert.ok(Number(sync.result?.bytesOnWire) < 4 * 1024 * 1024, `only the changed blocks travel: ${String(sync.result?.bytesOnWire)}`);
  await run('qemu-img', ['compare', '-q', join(hostImagesDir('hosta'), 'acc1.qcow2'), join(hostImagesDir('hostb'), 'acc1.qcow2')]);
  assert.equal((await hostExec('hostb', ['ls', '-A', FORWARD_DIR])).trim(), '', 'the peer sockets were removed by the agent');
  assert.deepEqual(
    (await hostExec('hostb', ['ls', '-A', '/run/kvmclone'])).split('\n').filter((f) => f.startsWith('peer-')),
    [],
  );
  assert.deepEqual([await rootLogins('hosta'), await rootLogins('hostb')], roots, 'no root login during clone and sync');
  const accepted = (await readFile(join(E2E_DIR, 'hostb', 'sshd.log'), 'utf8')).split('\n').filter((l) => l.includes(`Accepted publickey for ${SSH_ACCOUNT} `));
  assert.ok(accepted.length >= 2, 'both operations logged in as the account');
});
